"""The review queue as one self-contained HTML page (no scripts or styles from elsewhere, opens from disk):
each file's audio (a path relative to the page, so nothing is copied and the uploads are never touched),
its draft in an editable box, its confidence, and the exact path where the corrected transcript goes,
with buttons to copy that path and to download the edited text as that file's ``.txt``."""

from __future__ import annotations

import html
import os
from pathlib import Path
from urllib.parse import quote

from whisper_pipeline.io import write_text

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid #ddd;padding:.45em;vertical-align:top;text-align:left}
th{background:#f3f3f3;position:sticky;top:0}
textarea{width:100%;min-width:18em;height:4.5em;font:inherit}
code{font-size:12px;word-break:break-all}
.low{color:#b00020;font-weight:600}.mid{color:#a15c00}.high{color:#1b6e20}
.measures{font-size:12px;color:#555}
button{margin:.2em .3em 0 0}
"""

SCRIPT = """
document.querySelectorAll('tr[data-rank]').forEach(function (row) {
  var path = row.dataset.transcriptPath, name = row.dataset.transcriptName;
  row.querySelector('.copy').addEventListener('click', function () {
    var done = function () { row.querySelector('.copied').textContent = 'copied'; };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(path).then(done, function () { select(row.querySelector('code')); });
    } else { select(row.querySelector('code')); }
  });
  row.querySelector('.save').addEventListener('click', function () {
    var text = row.querySelector('textarea').value.trim() + '\\n';
    var link = document.createElement('a');
    link.href = URL.createObjectURL(new Blob([text], {type: 'text/plain;charset=utf-8'}));
    link.download = name;
    document.body.appendChild(link); link.click(); link.remove();
    setTimeout(function () { URL.revokeObjectURL(link.href); }, 1000);
  });
});
function select(el) {
  var range = document.createRange(); range.selectNodeContents(el);
  var sel = window.getSelection(); sel.removeAllRanges(); sel.addRange(range);
}
"""


def audio_src(audio: str | Path, page: Path) -> str:
    """The audio's URL relative to the page (percent-encoded), or a ``file:`` URI where no relative path
    exists (another drive on Windows)."""
    try:
        rel = os.path.relpath(Path(audio).resolve(), page.parent.resolve())
    except ValueError:
        return Path(audio).resolve().as_uri()
    return quote(Path(rel).as_posix())


def _level(score: float) -> str:
    return "low" if score < 0.3 else "mid" if score < 0.6 else "high"


def _fmt(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def render(rows: list[dict], page: Path, lang: str, model: str, uploads: Path) -> str:
    """The page for ``rows`` (ranked queue rows, ``queue.py``), to be written at ``page``."""
    hours = sum(r["duration_s"] for r in rows) / 3600
    body = []
    for r in rows:
        transcript = Path(r["transcript_path"])
        body.append(
            f'<tr data-rank="{r["rank"]}" data-transcript-path="{html.escape(str(transcript))}" '
            f'data-transcript-name="{html.escape(transcript.name)}">'
            f"<td>{r['rank']}</td>"
            f"<td>{html.escape(r['file'])}<br><span class=measures>{r['duration_s']:.1f} s · "
            f"speaker {html.escape(r.get('speaker') or '?')}</span></td>"
            f'<td><span class="{_level(r["score"])}">{r["score"]:.3f}</span><br><span class=measures>'
            f"log-prob {_fmt(r['avg_logprob'])}<br>no-speech {_fmt(r['no_speech_prob'])}<br>"
            f"compression {_fmt(r['compression_ratio'], 2)}</span></td>"
            f'<td><audio controls preload="metadata" src="{html.escape(audio_src(r["audio"], page))}"></audio></td>'
            f'<td><textarea aria-label="draft of {html.escape(r["file"])}">{html.escape(r["draft"])}</textarea></td>'
            f"<td><code>{html.escape(str(transcript))}</code><br>"
            f"<button type=button class=copy>Copy path</button><button type=button class=save>Download "
            f"{html.escape(transcript.name)}</button> <span class=copied></span></td></tr>"
        )
    empty = "<tr><td colspan=6>Nothing to review: every recording has a transcript.</td></tr>"
    return f"""<!doctype html>
<html lang="{html.escape(lang)}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Review queue · {html.escape(lang)}</title><style>{STYLE}</style></head>
<body data-files="{len(rows)}">
<h1>Review queue · {html.escape(lang)}</h1>
<p>{len(rows)} recording(s) without a transcript, {hours:.3f} h, drafted by <b>{html.escape(model)}</b>;
least confident first. Listen, correct the draft, and save it as UTF-8 text at the path shown (next to the
audio under <code>{html.escape(str(uploads))}</code>): the next intake (<code>raw_audio</code>) takes the
recording in as training data, and it leaves this queue.</p>
<table><thead><tr><th>#</th><th>file</th><th>score</th><th>audio</th><th>draft (edit it)</th>
<th>save the corrected transcript as</th></tr></thead>
<tbody>{"".join(body) or empty}</tbody></table>
<script>{SCRIPT}</script>
</body></html>
"""


def write_page(rows: list[dict], page: Path, lang: str, model: str, uploads: Path) -> Path:
    """Render and write the page atomically."""
    return write_text(page, render(rows, page, lang, model, uploads))
