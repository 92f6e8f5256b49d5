<#
.SYNOPSIS
    Let this Windows account run the repository's PowerShell scripts: ExecutionPolicy Bypass for the current user,
    and Unblock-File on scripts\*.ps1.

.DESCRIPTION
    SECURITY WARNING: `Set-ExecutionPolicy -Scope CurrentUser Bypass` lets EVERY PowerShell script this account
    runs execute without any check or prompt, not only this repository's: a script downloaded from the internet or
    in an e-mail attachment will run too. Unblock-File removes the "downloaded from the internet" mark (the
    Zone.Identifier stream) from this repository's scripts. Use it on a development machine you control, read the
    scripts first, and undo it when you are done with:
        powershell -ExecutionPolicy Bypass -File scripts\enable-pwsh-allow.ps1 -Revert
    A narrower alternative needs no policy change at all: run one script at a time with
        powershell -ExecutionPolicy Bypass -File scripts\setup_env.ps1
    Policies set by an administrator or group policy (MachinePolicy / UserPolicy scopes) still win; this script
    does not touch them, and needs no administrator rights.

    Run it (the policy may not allow it yet) as:
        powershell -ExecutionPolicy Bypass -File scripts\enable-pwsh-allow.ps1
    It asks for confirmation; -Force skips the question (for automation that has already decided).

.PARAMETER Force
    Do not ask for confirmation.

.PARAMETER Revert
    Reset the CurrentUser policy to Undefined (the machine's default applies again).
#>
[CmdletBinding()]
param(
    [switch]$Force,
    [switch]$Revert
)
$ErrorActionPreference = "Stop"
$Root = Split-Path -Parent $PSScriptRoot

if ($Revert) {
    Set-ExecutionPolicy -Scope CurrentUser -ExecutionPolicy Undefined -Force
    Write-Host "CurrentUser execution policy reset to Undefined; effective policy: $(Get-ExecutionPolicy)"
    exit 0
}

Write-Warning @"
SECURITY: this sets the PowerShell execution policy of your account (scope CurrentUser) to Bypass.
Every PowerShell script you run, from any source, will then run without a check or prompt.
It also unblocks this repository's scripts ($Root\scripts\*.ps1).
Undo later with: powershell -ExecutionPolicy Bypass -File scripts\enable-pwsh-allow.ps1 -Revert
"@
if (-not $Force) {
    $answer = Read-Host "Type YES to change the policy (anything else cancels)"
    if ($answer -cne "YES") {
        Write-Host "cancelled: nothing changed"
        exit 1
    }
}

Set-ExecutionPolicy -Scope CurrentUser -ExecutionPolicy Bypass -Force
Get-ChildItem -Path (Join-Path $Root "scripts") -Filter "*.ps1" | ForEach-Object {
    Unblock-File -Path $_.FullName
    Write-Host "unblocked $($_.Name)"
}
Write-Host "CurrentUser execution policy: $(Get-ExecutionPolicy -Scope CurrentUser); effective: $(Get-ExecutionPolicy)"
Write-Host "next: scripts\setup_env.ps1"
