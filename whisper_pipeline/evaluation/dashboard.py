"""``reports/<run>/index.html``: one self-contained page (Plotly's JS inlined, no network) that shows an
evaluation — WER/CER per language with confidence intervals, per speaker and length bucket, the most
frequent substitutions as a heatmap, error against duration, base vs fine-tuned, robustness under
degraded conditions (WER against SNR per model and noise type, and the other conditions as bars, with a
table of every condition's WER and interval), and a searchable per-utterance table with audio players
(paths relative to the page) — plus ``summary.png``.
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path

from whisper_pipeline.io import atomic_path, write_text

MODEL_ORDER = ("finetuned", "base", "production")
COLORS = {"finetuned": "#1f77b4", "base": "#ff7f0e", "production": "#2ca02c"}


def _bars(evals: dict[str, dict], metric: str):
    import plotly.graph_objects as go

    fig = go.Figure()
    langs = sorted(evals)
    for model in MODEL_ORDER:
        values = [evals[l]["models"].get(model, {}).get(metric) for l in langs]
        if all(v is None for v in values):
            continue
        cis = [evals[l]["models"].get(model, {}).get(f"{metric}_ci95") or [None, None] for l in langs]
        fig.add_bar(
            name=model,
            x=langs,
            y=values,
            marker_color=COLORS[model],
            error_y={
                "type": "data",
                "symmetric": False,
                "array": [(c[1] - v) if c[1] is not None and v is not None else 0 for c, v in zip(cis, values)],
                "arrayminus": [(v - c[0]) if c[0] is not None and v is not None else 0 for c, v in zip(cis, values)],
            },
        )
    fig.update_layout(
        title=f"{metric.upper()} per language (95% bootstrap interval)", barmode="group", yaxis_title=metric.upper()
    )
    return fig


def _by_group(evals: dict[str, dict], key: str, title: str):
    import plotly.graph_objects as go

    fig = go.Figure()
    for model in ("finetuned", "base"):
        x, y = [], []
        for lang in sorted(evals):
            for group, stats in evals[lang]["models"].get(model, {}).get(key, {}).items():
                x.append(f"{lang} · {group}")
                y.append(stats["wer"])
        if x:
            fig.add_bar(name=model, x=x, y=y, marker_color=COLORS[model])
    fig.update_layout(title=title, barmode="group", yaxis_title="WER")
    return fig


def _substitution_heatmap(evals: dict[str, dict], top: int = 15):
    import plotly.graph_objects as go

    pairs: dict[tuple[str, str], int] = {}
    for doc in evals.values():
        for s in doc["models"].get("finetuned", {}).get("top_substitutions", []):
            pairs[(s["reference"], s["hypothesis"])] = pairs.get((s["reference"], s["hypothesis"]), 0) + s["count"]
    chosen = sorted(pairs.items(), key=lambda kv: -kv[1])[:top]
    refs = sorted({r for (r, _), _ in chosen})
    hyps = sorted({h for (_, h), _ in chosen})
    z = [[pairs.get((r, h), 0) for h in hyps] for r in refs]
    fig = go.Figure(go.Heatmap(z=z or [[0]], x=hyps or ["-"], y=refs or ["-"], colorscale="Blues"))
    fig.update_layout(
        title="Most frequent substitutions (fine-tuned): reference word → hypothesis word",
        xaxis_title="hypothesis",
        yaxis_title="reference",
    )
    return fig


def _error_by_duration(evals: dict[str, dict]):
    import plotly.graph_objects as go

    fig = go.Figure()
    for model in ("finetuned", "base"):
        rows = [r for doc in evals.values() for r in doc["per_utterance"] if r.get(f"{model}_wer") is not None]
        if rows:
            fig.add_scatter(
                name=model,
                mode="markers",
                x=[r["duration"] for r in rows],
                y=[r[f"{model}_wer"] for r in rows],
                text=[r["id"] for r in rows],
                marker_color=COLORS[model],
            )
    fig.update_layout(title="Utterance WER against duration", xaxis_title="seconds", yaxis_title="WER")
    return fig


def _comparison_table(evals: dict[str, dict]) -> str:
    rows = []
    for lang in sorted(evals):
        for name, c in evals[lang].get("comparisons", {}).items():
            ci = c["difference_ci95"]
            rows.append(
                f"<tr><td>{lang}</td><td>{html.escape(name)}</td><td>{c['wer_difference']:+.4f}</td>"
                f"<td>[{ci[0]:+.4f}, {ci[1]:+.4f}]</td><td>{c['p_value']}</td>"
                f"<td>{'yes' if c['significant'] else 'no'}</td></tr>"
            )
    return (
        "<table id='comparisons'><tr><th>language</th><th>comparison</th><th>WER difference</th><th>95% interval</th>"
        "<th>p</th><th>significant</th></tr>" + "".join(rows) + "</table>"
    )


def _utterance_table(evals: dict[str, dict], page_dir: Path) -> str:
    models = [m for m in MODEL_ORDER if any(m in d["models"] for d in evals.values())]
    head = "".join(f"<th>{m} hypothesis</th><th>{m} WER</th>" for m in models)
    rows = []
    for lang in sorted(evals):
        for r in evals[lang]["per_utterance"]:
            audio = os.path.relpath(r["audio"], page_dir) if r.get("audio") else ""
            cells = "".join(
                f"<td>{html.escape(str(r.get(f'{m}_hypothesis', '')))}</td><td>{r.get(f'{m}_wer', '')}</td>"
                for m in models
            )
            rows.append(
                f"<tr><td>{lang}</td><td>{html.escape(r['id'])}</td><td>{html.escape(r['speaker'])}</td>"
                f"<td><audio controls preload='none' src='{html.escape(audio)}'></audio></td>"
                f"<td>{html.escape(r['reference'])}</td>{cells}</tr>"
            )
    return (
        "<input id='search' type='search' placeholder='Filter utterances (id, speaker, text)…' oninput='filterRows()'>"
        "<table id='utterances'><tr><th>lang</th><th>id</th><th>speaker</th><th>audio</th>"
        f"<th>reference</th>{head}</tr>" + "".join(rows) + "</table>"
    )


NOISE_DASH = {"white": "dot", "pink": "solid", "babble": "dash"}
CLEAN_SNR = 30  # where "clean" sits on the SNR axis of the robustness chart


def _conditions(evals: dict[str, dict]) -> list[str]:
    """Every condition any language was evaluated under, in evaluation order."""
    return list(dict.fromkeys(c for l in sorted(evals) for c in (evals[l].get("conditions") or {})))


def _scored(doc: dict, condition: str, model: str) -> dict | None:
    return ((doc.get("conditions") or {}).get(condition, {}).get("models") or {}).get(model)


def _error_bars(stats: list[dict | None]) -> dict:
    def bound(s, i, sign):
        ci = (s or {}).get("wer_ci95")
        return sign * (ci[i] - s["wer"]) if ci and s.get("wer") is not None else 0

    return {"type": "data", "symmetric": False, "array": [bound(s, 1, 1) for s in stats],
            "arrayminus": [bound(s, 0, -1) for s in stats]}  # fmt: skip


def _robustness_snr(lang: str, doc: dict):
    """WER against SNR for one language: a line per model and noise type, clean at the right end."""
    import plotly.graph_objects as go

    fig = go.Figure()
    conditions = doc.get("conditions") or {}
    for model in MODEL_ORDER:
        if model not in doc["models"]:
            continue
        for noise, dash in NOISE_DASH.items():
            names = sorted(
                (n for n, c in conditions.items() if c.get("noise") == noise and _scored(doc, n, model)),
                key=lambda n: conditions[n]["snr_db"],
            )
            if not names:
                continue
            stats = [_scored(doc, n, model) for n in names] + [doc["models"][model]]
            fig.add_scatter(
                name=f"{model} · {noise}",
                x=[conditions[n]["snr_db"] for n in names] + [CLEAN_SNR],
                y=[s.get("wer") for s in stats],
                mode="lines+markers",
                line={"color": COLORS[model], "dash": dash},
                error_y=_error_bars(stats),
            )
    ticks = sorted({c["snr_db"] for c in conditions.values() if c.get("snr_db") is not None})
    fig.update_layout(
        title=f"Robustness ({lang}): WER against SNR per model and noise type (95% interval)",
        xaxis={"title": "SNR (dB)", "tickvals": [*ticks, CLEAN_SNR], "ticktext": [*map(str, ticks), "clean"]},
        yaxis_title="WER",
    )
    return fig


def _robustness_other(lang: str, doc: dict):
    """The conditions without an SNR (reverberation, telephone, codecs) next to clean, per model."""
    import plotly.graph_objects as go

    conditions = doc.get("conditions") or {}
    names = [n for n, c in conditions.items() if c.get("snr_db") is None and "models" in c]
    fig = go.Figure()
    for model in MODEL_ORDER:
        if model not in doc["models"]:
            continue
        stats = [doc["models"][model]] + [_scored(doc, n, model) for n in names]
        fig.add_bar(
            name=model,
            x=["clean", *names],
            y=[(s or {}).get("wer") for s in stats],
            marker_color=COLORS[model],
            error_y=_error_bars(stats),
        )
    fig.update_layout(
        title=f"Robustness ({lang}): reverberation, telephone and codecs (95% interval)",
        barmode="group",
        yaxis_title="WER",
    )
    return fig


def robustness_figures(evals: dict[str, dict]) -> list:
    """The robustness charts of every language evaluated under conditions."""
    figures = []
    for lang in sorted(evals):
        conditions = evals[lang].get("conditions") or {}
        if any(c.get("snr_db") is not None and "models" in c for c in conditions.values()):
            figures.append(_robustness_snr(lang, evals[lang]))
        if any(c.get("snr_db") is None and "models" in c for c in conditions.values()):
            figures.append(_robustness_other(lang, evals[lang]))
    return figures


def _robustness_table(evals: dict[str, dict]) -> str:
    """Every condition's WER (and interval) per language and model; skipped conditions say why."""
    names = _conditions(evals)
    if not names:
        return "<p>No degraded conditions were evaluated (eval_report <code>conditions: []</code>).</p>"
    models = [m for m in MODEL_ORDER if any(m in d["models"] for d in evals.values())]
    rows = []
    for lang in sorted(evals):
        doc = evals[lang]
        for name in ["clean", *names]:
            entry = (doc.get("conditions") or {}).get(name) if name != "clean" else {"description": "clean audio"}
            if entry is None:
                continue
            if "skipped" in entry:
                cells = f"<td colspan='{len(models)}'>skipped: {html.escape(entry['skipped'])}</td>"
            else:
                cells = ""
                for m in models:
                    s = doc["models"].get(m) if name == "clean" else _scored(doc, name, m)
                    ci = (s or {}).get("wer_ci95")
                    text = "" if not s or s.get("wer") is None else f"{s['wer']:.3f}"
                    cells += f"<td>{text}{f' [{ci[0]:.3f}, {ci[1]:.3f}]' if ci and text else ''}</td>"
            rows.append(
                f"<tr><td>{lang}</td><td>{html.escape(name)}</td><td>{html.escape(entry['description'])}</td>{cells}</tr>"
            )
    head = "".join(f"<th>{m} WER [95%]</th>" for m in models)
    return (
        f"<table id='robustness'><tr><th>language</th><th>condition</th><th>what</th>{head}</tr>"
        + "".join(rows)
        + "</table>"
    )


def _robustness_data(evals: dict[str, dict]) -> dict:
    return {
        l: {
            n: {m: s.get("wer") for m, s in (c.get("models") or {}).items()}
            for n, c in (d.get("conditions") or {}).items()
        }
        for l, d in evals.items()
    }


SCRIPT = """
function filterRows() {
  const q = document.getElementById('search').value.toLowerCase();
  for (const row of document.querySelectorAll('#utterances tr:not(:first-child)')) {
    row.style.display = row.textContent.toLowerCase().includes(q) ? '' : 'none';
  }
}
"""
STYLE = """
body { font-family: sans-serif; margin: 2em; } table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
td, th { border: 1px solid #ccc; padding: 0.3em 0.5em; vertical-align: top; } th { background: #f3f3f3; }
#search { width: 40em; padding: 0.4em; } .chart { margin: 1em 0; }
"""


def write_summary_png(evals: dict[str, dict], path: Path) -> Path:
    """WER per language and model as a bar chart image (for the Dagster UI)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    langs = sorted(evals)
    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=100)
    width = 0.27
    for k, model in enumerate(m for m in MODEL_ORDER if any(m in evals[l]["models"] for l in langs)):
        values = [evals[l]["models"].get(model, {}).get("wer") or 0.0 for l in langs]
        ax.bar([i + k * width for i in range(len(langs))], values, width, label=model, color=COLORS[model])
    ax.set_xticks([i + width for i in range(len(langs))], langs)
    ax.set_ylabel("WER")
    ax.set_title("WER per language")
    ax.legend()
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return path


def page_path(page_dir: Path) -> Path:
    """The dashboard page ``build_dashboard`` writes in ``page_dir``."""
    return page_dir / "index.html"


def summary_png_path(page_dir: Path) -> Path:
    """The summary image ``build_dashboard`` writes in ``page_dir``."""
    return page_dir / "summary.png"


def build_dashboard(evals: dict[str, dict], run: str, page_dir: Path) -> Path:
    """Write ``page_dir/index.html`` and ``page_dir/summary.png``; returns the page."""
    import plotly.offline

    page_dir.mkdir(parents=True, exist_ok=True)
    figures = [
        _bars(evals, "wer"),
        _bars(evals, "cer"),
        _by_group(evals, "by_speaker", "WER per speaker"),
        _by_group(evals, "by_duration", "WER per length bucket"),
        _substitution_heatmap(evals),
        _error_by_duration(evals),
    ]

    def as_html(figs: list) -> str:
        return "".join(f"<div class='chart'>{f.to_html(full_html=False, include_plotlyjs=False)}</div>" for f in figs)

    charts, robustness = as_html(figures), as_html(robustness_figures(evals))
    scores = {l: {m: {k: d["models"][m].get(k) for k in ("wer", "cer")} for m in d["models"]} for l, d in evals.items()}
    doc = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Evaluation: {html.escape(run)}</title>
<style>{STYLE}</style><script>{plotly.offline.get_plotlyjs()}</script><script>{SCRIPT}</script></head>
<body><h1>Evaluation of run <code>{html.escape(run)}</code></h1>
<p>Languages: {", ".join(sorted(evals))}. Test utterances: {sum(d["utterances"] for d in evals.values())}.
WER/CER on the BCS evaluation normalizer; intervals are 95% bootstrap intervals over utterances.</p>
<h2>Fine-tuned against the other models</h2>{_comparison_table(evals)}
{charts}
<section id='robustness-block'><h2 id='robustness-section'>Robustness under degraded conditions</h2>
<p>The same test utterances with seeded noise (white, pink, babble of other test speakers) at fixed SNRs,
synthetic room reverberation, a G.711 telephone channel and low-bitrate codecs; every model hears identical audio.</p>
{_robustness_table(evals)}
{robustness}</section>
<h2>Utterances</h2>{_utterance_table(evals, page_dir)}
<script type="application/json" id="evaluation-data">{html.escape(json.dumps(scores))}</script>
<script type="application/json" id="robustness-data">{html.escape(json.dumps(_robustness_data(evals)))}</script>
</body></html>"""
    write_summary_png(evals, summary_png_path(page_dir))
    return write_text(page_path(page_dir), doc)
