<#
.SYNOPSIS
    Windows set-up: a .venv with the locked dependencies, the package itself, then the smoke check.

.DESCRIPTION
    The PowerShell counterpart of scripts/setup.sh (which Linux, `make setup` and CI use):
      1. creates .venv with Python >= 3.11 (the `py` launcher, else `python` on PATH);
      2. installs requirements.lock (exact versions + hashes; the lock is universal, so it carries the Windows
         wheels too) and then the project itself, editable, without re-resolving: pip install --no-deps -e .
         -NoLock installs from pyproject.toml's ranges instead: pip install -e ".[test]";
      3. optionally (-TorchIndex) swaps PyPI's Windows torch, which is CPU-only, for a CUDA build;
      4. runs `python -m whisper_pipeline.doctor`: torch + CUDA + GPU memory, ffmpeg, espeak-ng, the base model's
         digest, the workspace and the Dagster instance, each OK / WARN / FAIL with a hint.
    System tools are not installed here: ffmpeg (winget install --id Gyan.FFmpeg) and espeak-ng (the .msi from
    https://github.com/espeak-ng/espeak-ng/releases); the doctor says when they are missing.
    If Windows refuses to run scripts, see scripts/enable-pwsh-allow.ps1 or run this one as
        powershell -ExecutionPolicy Bypass -File scripts\setup_env.ps1

.PARAMETER Python
    The interpreter that creates .venv (default: `py -3.11`, else `python`).

.PARAMETER NoLock
    Install from pyproject.toml's version ranges instead of requirements.lock.

.PARAMETER TorchIndex
    A PyTorch wheel index with CUDA builds for Windows, e.g. https://download.pytorch.org/whl/cu130: torch and
    torchaudio 2.11.0 are reinstalled from it (outside the lock's hashes) so training can use an NVIDIA GPU.

.EXAMPLE
    powershell -ExecutionPolicy Bypass -File scripts\setup_env.ps1 -TorchIndex https://download.pytorch.org/whl/cu130
#>
[CmdletBinding()]
param(
    [string]$Python = "",
    [switch]$NoLock,
    [string]$TorchIndex = ""
)
$ErrorActionPreference = "Stop"
$Root = Split-Path -Parent $PSScriptRoot
Set-Location $Root

function Invoke-Checked {
    # Native commands do not throw on failure: stop on a non-zero exit code, naming the command.
    param([string]$Exe, [string[]]$Arguments)
    & $Exe @Arguments
    if ($LASTEXITCODE -ne 0) { throw "failed ($LASTEXITCODE): $Exe $($Arguments -join ' ')" }
}

$VenvPython = Join-Path $Root ".venv\Scripts\python.exe"
if (-not (Test-Path $VenvPython)) {
    if ($Python) {
        $creator = @($Python)
    } elseif (Get-Command py -ErrorAction SilentlyContinue) {
        $creator = @("py", "-3.11")
    } else {
        $creator = @("python")
    }
    $creatorArgs = @()
    if ($creator.Count -gt 1) { $creatorArgs = $creator[1..($creator.Count - 1)] }
    Invoke-Checked $creator[0] ($creatorArgs + @("-c", "import sys; assert sys.version_info >= (3, 11), 'Python >= 3.11 required'"))
    Write-Host "creating .venv with $($creator -join ' ')"
    Invoke-Checked $creator[0] ($creatorArgs + @("-m", "venv", ".venv"))
}

# A current pip: older ones (23.2) reject the lock's `gql[requests]`-style extras in --require-hashes mode.
Invoke-Checked $VenvPython @("-m", "pip", "install", "-q", "--upgrade", "pip")
if ($NoLock) {
    Invoke-Checked $VenvPython @("-m", "pip", "install", "-q", "-e", ".[test]")
} else {
    Invoke-Checked $VenvPython @("-m", "pip", "install", "-q", "--require-hashes", "-r", "requirements.lock")
    Invoke-Checked $VenvPython @("-m", "pip", "install", "-q", "--no-deps", "-e", ".")
}
if ($TorchIndex) {
    Write-Host "replacing PyPI's CPU-only Windows torch with the CUDA build from $TorchIndex"
    Invoke-Checked $VenvPython @("-m", "pip", "install", "-q", "--force-reinstall", "--no-deps",
        "--index-url", $TorchIndex, "torch==2.11.0", "torchaudio==2.11.0")
}

Write-Host "`nsmoke check (python -m whisper_pipeline.doctor):"
& $VenvPython -m whisper_pipeline.doctor
if ($LASTEXITCODE -ne 0) {
    Write-Warning "set-up finished, but the doctor reports a FAIL above: follow its hints, then run it again with
    .venv\Scripts\python -m whisper_pipeline.doctor"
    exit 1
}
Write-Host "set-up done: .venv ready"
