"""``python -m whisper_pipeline.governance licenses`` writes ``DATA_LICENSES.md``;
``python -m whisper_pipeline.governance remove SELECTOR [--apply] [--reason TEXT]`` lists (and with
``--apply`` removes) a source, speaker or files and everything made from them."""

from __future__ import annotations

import argparse
import json
import sys

from whisper_pipeline.governance.licenses import write_licences
from whisper_pipeline.governance.removal import RemovalError, apply_removal, plan_removal
from whisper_pipeline.workspace import HOME_ENV_VAR, Workspace


def _print_plan(ws: Workspace, plan, applied: bool) -> None:
    verb = "removed" if applied else "would remove"
    summary = plan.summary(ws)
    print(f"{plan.selector}: {len(plan.recordings)} recording(s)")
    for r in plan.recordings:
        print(f"  {r.file_id}  ({r.why})")
    print(f"files ({verb} {len(summary['files'])}):")
    for (_, what), rel in zip(plan.delete, summary["files"], strict=True):
        print(f"  {rel}  [{what}]")
    print(f"entries ({verb} from {len(summary['rewritten'])} files; {plan.manifest_lines} manifest lines):")
    for rel, n in summary["rewritten"].items():
        print(f"  {rel}  [{n} entries]")
    if summary["untouched"]:
        print("mentions left in place:")
        for rel, why in summary["untouched"].items():
            print(f"  {rel}  [{why}]")
    marked = "marked as needing retraining" if applied else "would be marked as needing retraining"
    print(f"models trained on it ({marked}): " + (", ".join(plan.runs) or "none"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m whisper_pipeline.governance", description=__doc__)
    parser.add_argument("--workspace", help=f"workspace root (default: ${HOME_ENV_VAR}, else data/workspace)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("licenses", help="write DATA_LICENSES.md in the workspace from the provenance sidecars")
    remove = commands.add_parser("remove", help="list (dry run) or remove a source, speaker or files")
    remove.add_argument("selector", help="a source URL or id, a speaker, a file id, or a path glob under uploads/")
    remove.add_argument("--apply", action="store_true", help="delete and rewrite (default: only list)")
    remove.add_argument("--reason", default="", help="why (kept in the removal record)")
    remove.add_argument("--json", action="store_true", help="print the plan or record as JSON")
    args = parser.parse_args(argv)
    ws = Workspace.at(args.workspace)
    if args.command == "licenses":
        path, rows = write_licences(ws)
        print(f"{path}: {len(rows)} source(s)")
        return 0
    try:
        plan = plan_removal(ws, args.selector)
    except RemovalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    shown = apply_removal(ws, plan, args.reason) if args.apply else plan.summary(ws)
    if args.json:
        print(json.dumps(shown, ensure_ascii=False, indent=2))
    else:
        _print_plan(ws, plan, args.apply)
    if not args.apply:
        print("dry run: nothing changed; add --apply to remove", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
