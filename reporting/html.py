"""``results/report.html``: one self-contained page with every chart, the scores and the run.

Self-contained means no request leaves the file: charts are embedded as ``data:`` PNGs, the
style and the table-sorting script are inline, and there is no font, CDN or favicon fetch, so
the page works from a ``file://`` URL on a machine with no network. Every name that came from
a folder or from params goes through :func:`html.escape`.
"""

from __future__ import annotations

import base64
import html
import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from reporting.tables import P_FLOOR
from tcavcore.verdicts import LOWERS, NOT_LEARNABLE, NOT_RECOGNISED, RAISES
from tcavcore.confirmation import CONTRADICTED, RAISES_CONFIRMED, STATUS_CONFIRMED, \
    STATUS_CONTRADICTED, STATUS_UNCONFIRMED, status


@dataclass
class Chart:
    """One embedded chart: its file name under ``results/plots``, PNG (or animated GIF) bytes, and
    optionally a short plain-text "how to read this" shown above it."""

    name: str
    png: bytes
    caption: str = ""
    how_to_read: str = ""


@dataclass
class ReportContent:
    """Everything the page shows; built by the report stage."""

    title: str
    rows: Sequence[Mapping[str, Any]]
    classes: Sequence[str]
    bottlenecks: Sequence[str]
    decision_text: str
    confidence: float
    model_metrics: Mapping[str, Any] | None
    params_text: str
    sections: list[tuple[str, str, list[Chart]]] = field(default_factory=list)  # (id, heading, charts)
    notes: list[str] = field(default_factory=list)  # missing inputs and other warnings
    truth: Mapping[tuple[str, str], Mapping[str, Any]] = field(default_factory=dict)  # (class, concept) -> effect
    accuracy_html: str = ""  # the findings scored against the known truth (a synthetic run only)
    min_concept_images: int = 0  # tcav.min_concept_images: rows with small_sets rest on fewer images


STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:0;color:#1a1a1a;background:#fafafa}
main{max-width:1180px;margin:0 auto;padding:1.2rem 1.5rem 3rem}
h1{font-size:1.6rem;margin:.3rem 0}h2{font-size:1.25rem;margin-top:2.2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
nav a{margin-right:1rem}.summary{display:flex;flex-wrap:wrap;gap:.8rem;margin:1rem 0}
.card{background:white;border:1px solid #e2e2e2;border-radius:6px;padding:.6rem .9rem;min-width:9rem}
.card b{display:block;font-size:1.3rem}.note{background:#fff4d6;border:1px solid #e8c66b;padding:.5rem .8rem;border-radius:5px}
figure{margin:1rem 0;background:white;border:1px solid #e6e6e6;border-radius:6px;padding:.6rem;overflow-x:auto}
figure img{max-width:100%;height:auto;display:block}figcaption{font-size:.85rem;color:#555;margin-top:.3rem}
table{border-collapse:collapse;font-size:.82rem;background:white;width:100%}
th,td{border-bottom:1px solid #eee;padding:.25rem .45rem;text-align:right;white-space:nowrap}
th{cursor:pointer;position:sticky;top:0;background:#f0f0f0;user-select:none}th:hover{background:#e4e4e4}
td.t,th.t{text-align:left}tr.raises td.v{color:#542788;font-weight:600}tr.lowers td.v{color:#b35806;font-weight:600}
tr.contradicted td.v{color:#7a4b00;font-weight:600;text-decoration:line-through}tr.unconfirmed td.v{font-weight:400}
tr.nl td{color:#999}.filters{margin:.6rem 0}pre{background:white;border:1px solid #e2e2e2;padding:.8rem;overflow-x:auto;font-size:.8rem}
ul.findings li{margin:.2rem 0}p.how{font-size:.9rem;margin:0 0 .5rem;max-width:60rem}
details.fold{margin-top:1.6rem}details.fold>summary{cursor:pointer;font-size:1.25rem;font-weight:600;
border-bottom:1px solid #ddd;padding-bottom:.2rem}details.fold>summary small{font-weight:400;color:#666;font-size:.85rem}
div.scroll{overflow:auto;max-height:75vh;border:1px solid #eee}.legend{font-size:.9rem}.start{font-size:1.05rem}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:0 1rem}
.charts figure.wide{grid-column:1/-1}
"""

#: Chart sections shown open; the others are folded under their heading (one click away), so
#: that the page opens on the findings and the charts that carry them.
OPEN_SECTIONS = ("classes", "heatmaps")
#: Open sections whose charts sit side by side (small multiples: one chart per layer).
GRID_SECTIONS = ("heatmaps",)

LEGEND = """<p class="legend"><b>confirmed</b>: TCAV is significant and pasting the concept into images moves
the class logit the same way, and more than random content does · <b>not confirmed</b>: TCAV is
significant, pasting does not measurably move it, or no more than random content · <b>contradicted</b>: pasting moves it the other way · <b>class-independent</b>:
the same direction for every class, no evidence for one class. Details under "How to read this".</p>"""

# Open a folded section a link points to; sort the scores by a clicked column (numbers
# numerically, empty cells last), and filter rows by class.
SCRIPT = """
(function(){
  // a link to a folded section opens it: on the click itself (hashchange fires later, and not
  // at all when the link's section was folded again by hand), and on a URL that arrives with one
  function openSection(id){var target=id&&document.getElementById(id);
    if(target&&target.tagName==='DETAILS') target.open=true;}
  document.addEventListener('click',function(event){
    var link=event.target.closest&&event.target.closest('a[href^="#"]');
    if(link) openSection(link.getAttribute('href').slice(1));});
  function unfold(){openSection(location.hash.slice(1));}
  window.addEventListener('hashchange',unfold); unfold();
  var table=document.getElementById('scores'); if(!table) return;
  var body=table.tBodies[0];
  function key(cell){var v=cell.getAttribute('data-v'); if(v===null) v=cell.textContent;
    if(v==='') return null; var n=Number(v); return isNaN(n)?v.toLowerCase():n;}
  Array.prototype.forEach.call(table.tHead.rows[0].cells,function(th,i){
    th.addEventListener('click',function(){
      var asc=th.getAttribute('data-dir')!=='asc'; th.setAttribute('data-dir',asc?'asc':'desc');
      var rows=Array.prototype.slice.call(body.rows);
      rows.sort(function(a,b){var x=key(a.cells[i]),y=key(b.cells[i]);
        if(x===null) return y===null?0:1; if(y===null) return -1;
        if(x<y) return asc?-1:1; if(x>y) return asc?1:-1; return 0;});
      rows.forEach(function(r){body.appendChild(r);});
    });
  });
  var select=document.getElementById('class-filter');
  if(select) select.addEventListener('change',function(){
    Array.prototype.forEach.call(body.rows,function(r){
      r.style.display=(select.value===''||r.getAttribute('data-class')===select.value)?'':'none';});
  });
})();
"""

#: The confirmed findings' measured precision on the built-in worlds (README "Measured accuracy").
MEASURED_PRECISION = ("colour world 1.00 and texture world 0.90 over six seeds each and five draws of the tests, "
                      "at a recall of 0.60 and 0.52; the same worlds run as a user's folders, ten seeds: colour 1.00, "
                      "texture 0.79")

HOW_TO_READ = """
<p>TCAV asks, for one class of the trained model and one human concept (a folder of example
images), whether nudging an image's internal activations toward the concept makes the model
more confident in the class. A <b>concept activation vector (CAV)</b> is the direction at one
layer (a <i>bottleneck</i>) that separates the concept's images from random images; the
<b>TCAV score</b> is the fraction of the class's images whose prediction moves toward the class
along that direction.</p>
<ul>
<li><b>Score</b> above 0.5: the concept pushes images toward the class; below 0.5: away from it.
It is a mean over one CAV per random counterexample set, shown with its {conf:.0%} confidence interval.</li>
<li><b>Random baseline</b>: the same score for CAVs between two sets of random images. A concept
only matters when its scores differ from these; with few random sets a meaningless concept
often scores far from 0.5 by chance.</li>
<li><b>Significant</b>: {decision}. Raw and adjusted p-values of both tests are in the table.</li>
<li><b>CAV not learnable here</b>: at that layer the concept's images cannot be told apart from
random images (held-out CAV accuracy below the threshold), so no score is given.</li>
<li><b>Effect size</b> (d): the difference between the concept's and the random scores, in units
of their spread; |d| above 0.8 is large.</li>
<li>A significant score says the model is <i>sensitive</i> to the concept at that layer, not that the
concept causes the class in the world. Swap in your own concept folders to test other hypotheses.</li>
</ul>
<p>Every significant finding is then checked by three tests on images, each comparing the class logit
with and without the concept's content in the same place of the same picture:</p>
<ul>
<li>The <b>scene test</b> (<code>scene_*</code> columns) decides: a soft blob of the concept is put on the
background of the class's own images (where blurring moves the class logit least) and compared with
blobs of the random sets in the same places. It asks what the concept does <i>where the class is
present</i>, as a distractor object in the picture would. Its effects are on the scale of a real change of
the class logit, so it only counts from <code>insertion.min_effect</code> logit on.</li>
<li>The <b>insertion test</b> (<code>insertion_*</code> columns) is a second opinion: a window of a concept
image is pasted into random-set images, where the class is absent, and compared with the same images with
the region filled from elsewhere in the image. It asks whether the concept <i>on its own</i> moves the
class. It can contradict a finding, not confirm one: a concept's images carry other cues (small dark marks
read as stripes) that move a class on images without it but not beside it, and on the built-in texture world
its confirmations were wrong one time in three.</li>
<li>The <b>object test</b> (<code>object_*</code> columns) is the scene test with a larger blob put <i>on</i>
the object (where blurring moves the class logit most), against the random sets' blobs there. It sees a
class's own cue, which a blob beside the creature hardly shows (stripes in place of a striped body), but
also content the model merely reads as that cue (dark marks read as stripes). So it can confirm a
<i>raise</i> the scene test does not, and only when its whole interval lies beyond
<code>insertion.min_effect</code>; it never contradicts.</li>
<li>Each test is also run with each random set as if it were a concept: any content moves a class a
little, and <code>*_random_low</code> / <code>_high</code> are where a new random set's effect falls (a
prediction interval at <code>tcav.confidence</code>). A test <i>agrees</i> with a finding when its effect is
significant (corrected over the run), the same way and beyond that interval
(<code>insertion.random_check</code>), as a TCAV score is only evidence when it differs from random directions.</li>
</ul>
<ul>
<li><b>confirmed</b>: TCAV is significant, the scene test agrees by at least <code>insertion.min_effect</code>
(or, for a raise, the object test does with its whole interval beyond it) and neither the scene nor the
insertion test goes the other way; <code>confirmed_by</code> names the test. On the built-in worlds these were right far more often than TCAV alone
({precision_text}), but not always, and they miss many real effects (see the README's accuracy table).
Their <i>direction</i> was right at least 97 times in 100 everywhere; most wrong ones were effects the right
way but smaller than <code>insertion.min_effect</code> in the truth. Those confirmed by the object test include
look-alikes (content the model reads as the class's cue once it covers the body): on the texture world run as a
user's folders about 8 in 10 of them were real effects, nearly all the rest smaller ones the same way. <b>size certain</b>
(<code>size_certain</code>, by the scene test only): the scene test's whole interval, not only its estimate, lies beyond
<code>insertion.min_effect</code>; those were right every time measured. A confirmed finding without it may be
a smaller effect than the floor.</li>
<li><b>not confirmed</b>: TCAV is significant but neither the scene test nor (for a raise) the object test
shows an effect of that size beyond what random content does: the direction scores differently from random
directions, yet the concept's content does not measurably move the class in its own pictures. Often a
direction the network grows more confident along whatever it predicts. Not a proof of no effect: a blob
beside a creature adds little to a cue its body already carries, and the object test confirms raises only,
so a concept that lowers a class by changing its body (stripes on a body whose colour decides the class)
stays unconfirmed.</li>
<li><b>contradicted</b>: the scene or the insertion test finds a significant effect in the opposite direction
(the scene test: at least <code>insertion.min_effect</code>).</li>
<li>What no test can say: TCAV reads one layer of one trained model; the tests read what pasting a
window or a blob of the concept's <i>images</i> does, which includes everything else those images carry
(a concept drawn as small marks can look like dots to the model). A pasted piece is a weaker cue than the
concept as it occurs (a whole body of that colour or texture), and a concept shown at another scale than
the class carries it may not move the class at all, so a real dependence can stay unconfirmed; neither
test says that the concept causes the class in the world, and neither speaks for another model or
another seed.</li>
</ul>
"""

COLUMNS = (
    ("target", "class", "t"), ("concept", "concept", "t"), ("bottleneck", "layer", "t"), ("alpha", "alpha", ""),
    ("verdict", "verdict", "t v"), ("score_mean", "score", ""), ("score_ci_low", "CI low", ""),
    ("score_ci_high", "CI high", ""), ("random_mean", "random", ""), ("effect_size", "d", ""),
    ("p_random", "p (vs random)", ""), ("p_random_adjusted", "adjusted", ""), ("p_half", "p (vs 0.5)", ""),
    ("p_half_adjusted", "adjusted", ""), ("cav_accuracy", "CAV acc.", ""), ("n_random", "random sets", ""),
    ("n_examples", "images", ""), ("n_concept", "concept imgs", ""),
    ("n_random_images", "random imgs", ""), ("class_independent", "every class", ""), ("insertion_effect", "insertion", ""), ("insertion_p_adjusted", "adjusted", ""),
    ("scene_effect", "scene", ""), ("scene_p_adjusted", "adjusted", ""), ("object_effect", "object", ""),
    ("object_p_adjusted", "adjusted", ""), ("confirmed", "confirmed", ""),
    ("confirmed_by", "by", "t"), ("size_certain", "size certain", ""),
)  # fmt: skip


P_COLUMNS = {"p_random", "p_random_adjusted", "p_half", "p_half_adjusted", "insertion_p", "insertion_p_adjusted",
             "scene_p", "scene_p_adjusted", "object_p", "object_p_adjusted"}


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _number(value: Any, key: str = "") -> tuple[str, str]:
    """(shown text, sort value) of one cell; a p-value column (``key``) never shows ``0``."""
    if isinstance(value, bool):
        return ("yes" if value else "no"), ("1" if value else "0")
    if isinstance(value, float):
        if not math.isfinite(value):
            return "–", ""
        if key in P_COLUMNS and value < P_FLOOR:
            return f"&lt; {P_FLOOR:.0e}", repr(value)
        if value == 0:
            return "0", "0.0"
        if abs(value) < 1e-3:
            return f"{value:.1e}", repr(value)
        return f"{value:.3f}", repr(value)
    return _e(value), _e(value)


def data_uri(png: bytes) -> str:
    """A ``data:image/png;base64,...`` URI for ``png`` (``image/gif`` for a GIF's bytes)."""
    kind = "gif" if png[:4] == b"GIF8" else "png"
    return f"data:image/{kind};base64," + base64.b64encode(png).decode("ascii")


def scores_table(rows: Sequence[Mapping[str, Any]], classes: Sequence[str]) -> str:
    """The scores as a sortable HTML table with a class filter."""
    options = "".join(f'<option value="{_e(c)}">{_e(c)}</option>' for c in classes)
    head = "".join(f'<th class="{cls}">{_e(label)}</th>' for _, label, cls in COLUMNS)
    body = []
    for row in rows:
        css = {RAISES: "raises", LOWERS: "lowers", NOT_LEARNABLE: "nl"}.get(row["verdict"].split(" (")[0], "")
        css += {STATUS_CONTRADICTED: " contradicted", STATUS_UNCONFIRMED: " unconfirmed"}.get(status(row) or "", "")
        cells = []
        for key, _, cls in COLUMNS:
            text, sort = _number(row[key], key)
            cells.append(f'<td class="{cls}" data-v="{sort}">{text}</td>')
        body.append(f'<tr class="{css}" data-class="{_e(row["target"])}">{"".join(cells)}</tr>')
    return (
        f'<div class="filters"><label>Class: <select id="class-filter"><option value="">all</option>{options}'
        f"</select></label> · click a column heading to sort</div>"
        f'<div class="scroll"><table id="scores"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def fold(section_id: str, heading: str, hint: str, body: str) -> str:
    """A section folded under its heading (a closed ``<details>``): one click opens it."""
    return (f'<details class="fold" id="{_e(section_id)}"><summary>{_e(heading)} <small>{_e(hint)}</small>'
            f"</summary>{body}</details>")


def start_here(rows: Sequence[Mapping[str, Any]], bottlenecks: Sequence[str]) -> str:
    """Which layer to read first: the one with the most confirmed findings (the deepest on a tie).

    Deeper layers come later in ``bottlenecks``; on the built-in worlds the last conv layer's
    findings agree with the known truth most often (README "Can a finding be trusted?").
    """
    if not bottlenecks:
        return ""
    counts = {b: sum(1 for r in rows if r["bottleneck"] == b and status(r) == STATUS_CONFIRMED) for b in bottlenecks}
    best = max(reversed(list(bottlenecks)), key=lambda b: counts[b])
    total = sum(counts.values())
    if not total:  # "0 of 0" would read as a count; say what it means
        return (f'<p class="start"><b>Start here:</b> layer <b>{_e(best)}</b>, the deepest: no confirmed finding '
                f"at any of the {len(bottlenecks)} layer(s).</p>")
    return (f'<p class="start"><b>Start here:</b> layer <b>{_e(best)}</b>, with {counts[best]} of the run\'s {total} '
            f"confirmed finding(s) ({len(bottlenecks)} layer(s)).</p>")


def _logit(value: float) -> str:
    """A test's effect in words: ``+0.42 logit``, or ``not run`` when it is NaN."""
    return "not run" if value != value else f"{value:+.2f} logit"


def confirmed_findings(rows: Sequence[Mapping[str, Any]], truth: Mapping[tuple[str, str], Mapping[str, Any]]) -> str:
    """The confirmed findings first, in one list (with the measured effect when the run has a known truth)."""
    chosen = [r for r in rows if status(r) == STATUS_CONFIRMED]
    if not chosen:
        return "<p><b>No finding is confirmed</b> by the tests on images in this run.</p>"
    items = []
    for r in chosen:
        way = "raises" if r["verdict"] == RAISES_CONFIRMED else "lowers"
        known = truth.get((r["target"], r["concept"]))
        measured = f"; measured effect in the scenes {float(known['effect']):+.2f}" if known else ""
        independent = "; class-independent: it does so for every class" if r.get("class_independent") else ""
        size = (f"; size certain: the scene test's interval [{r['scene_ci_low']:+.2f}, {r['scene_ci_high']:+.2f}] "
                "lies beyond the floor" if r.get("size_certain") else
                f"; size not certain: the scene test's interval [{r['scene_ci_low']:+.2f}, {r['scene_ci_high']:+.2f}] "
                "reaches below the floor in size" if r["confirmed_by"] == "scene" else
                f"; the object test's interval [{r['object_ci_low']:+.2f}, {r['object_ci_high']:+.2f}] lies beyond "
                "the floor (it also backs content the model merely reads as the class's cue)"
                if r["confirmed_by"] == "object" else "")
        items.append(f"<li><b>{_e(r['concept'])}</b> {way} <b>{_e(r['target'])}</b> at {_e(r['bottleneck'])} "
                     f"(score {r['score_mean']:.2f}; insertion {_logit(r['insertion_effect'])}, scene "
                     f"{_logit(r['scene_effect'])}, object {_logit(r['object_effect'])}; confirmed by the "
                     f"{_e(r['confirmed_by'])} test{size}{measured}"
                     f"{independent})</li>")
    contradicted = sum(r["verdict"] == CONTRADICTED for r in rows)
    tail = f"<p>{contradicted} finding(s) contradicted by a test (in the table).</p>" if contradicted else ""
    return f'<h3>Confirmed findings</h3><ul class="findings">{"".join(items)}</ul>{tail}<h3>All significant findings</h3>'


def findings(rows: Sequence[Mapping[str, Any]], classes: Sequence[str], bottlenecks: Sequence[str]) -> str:
    """Per class, the concepts found significant, by direction and layer, in words."""
    items = []
    for target in classes:
        lines = []
        for verdict, word in ((RAISES, "Raise it"), (LOWERS, "Lower it")):
            by_layer = []
            for bottleneck in bottlenecks:
                names = [f"{_e(r['concept'])} ({r['score_mean']:.2f}{_status_mark(r)})" for r in rows
                         if r["target"] == target and r["bottleneck"] == bottleneck and not r.get("class_independent")
                         and r["verdict"].split(" (")[0] == verdict and r["verdict"] != CONTRADICTED]
                names += [f"{_e(r['concept'])} ({r['score_mean']:.2f}, contradicted)" for r in rows
                          if r["target"] == target and r["bottleneck"] == bottleneck and r["verdict"] == CONTRADICTED
                          and not r.get("class_independent") and (r["score_mean"] > 0.5) == (verdict == RAISES)]
                if names:
                    by_layer.append(f"at <b>{_e(bottleneck)}</b> {', '.join(names)}")
            if by_layer:
                lines.append(f"<li>{word}: {'; '.join(by_layer)}</li>")
        if any(r["target"] == target and r["verdict"] == NOT_RECOGNISED for r in rows):
            lines.append(f"<li>{_e(NOT_RECOGNISED)}: no concept can be significant for it</li>")
        elif not lines:
            lines.append("<li>no concept is significant at any layer</li>")
        items.append(f"<li>Class <b>{_e(target)}</b><ul>{''.join(lines)}</ul></li>")
    return f'<ul class="findings">{"".join(items)}</ul>{class_independent_findings(rows, bottlenecks)}'


def class_independent_findings(rows: Sequence[Mapping[str, Any]], bottlenecks: Sequence[str]) -> str:
    """A sentence per layer naming the concepts significant the same way for every class there."""
    lines = []
    for bottleneck in bottlenecks:
        chosen = _unique_concepts(r for r in rows if r["bottleneck"] == bottleneck and r.get("class_independent"))
        if chosen:
            said = ", ".join(f"<b>{_e(c)}</b> {'raises' if up else 'lowers'} every class" for c, up in chosen)
            lines.append(f"<li>at <b>{_e(bottleneck)}</b>: {said}</li>")
    if not lines:
        return ""
    return ('<p class="note class-independent"><b>Class-independent</b> (not listed above as evidence for any '
            "class): a direction that makes the model more (or less) confident in <i>whatever</i> it predicts "
            f'scores the same way for every class; it says nothing about what one class depends on.</p><ul class="findings">'
            f"{''.join(lines)}</ul>")


def _unique_concepts(rows) -> list[tuple[str, bool]]:
    seen: dict[str, bool] = {}
    for r in rows:
        seen.setdefault(r["concept"], r["score_mean"] > 0.5)
    return list(seen.items())


def _status_mark(row: Mapping[str, Any]) -> str:
    mark = {STATUS_CONFIRMED: ", confirmed", STATUS_UNCONFIRMED: ", not confirmed"}.get(status(row) or "", "")
    return mark + (", small sets" if row.get("small_sets") else "")


def small_set_findings(rows: Sequence[Mapping[str, Any]], min_images: int) -> str:
    """A sentence naming the significant findings whose concept or random sets are under ``min_images``."""
    chosen = [r for r in rows if r.get("small_sets") and r["significant"]]
    if not chosen:
        return ""
    names = ", ".join(f"{_e(r['concept'])} / {_e(r['target'])} at {_e(r['bottleneck'])} "
                      f"({r['n_concept']} concept, {r['n_random_images']} random images)" for r in chosen)
    return (f'<p class="note small-sets"><b>Resting on small sets</b> (fewer than {min_images} images, '
            f"<code>tcav.min_concept_images</code>): {names}. A CAV learned from so few images is noisy; "
            "add images before trusting these.</p>")


def render(content: ReportContent) -> str:
    """The whole page as HTML text."""
    rows = content.rows
    significant = sum(bool(r["significant"]) for r in rows)
    tested = sum(bool(r["cav_learnable"]) for r in rows)
    not_learnable = sum(r["verdict"] == NOT_LEARNABLE for r in rows)
    cards = []
    metrics = content.model_metrics or {}
    for split in ("test", "val", "train"):
        if split in metrics and metrics[split].get("accuracy") is not None:
            cards.append((f"{split} accuracy", f"{metrics[split]['accuracy']:.3f}",
                          f"{metrics[split].get('n_images', '?')} images"))
    confirmed = sum(bool(r["confirmed"]) for r in rows)
    certain = sum(bool(r.get("size_certain")) for r in rows)
    cards += [
        ("confirmed", f"{confirmed} of {significant}", f"significant findings, by the scene or object test; {certain} size certain"),
        ("significant", f"{significant} of {tested}", "(class, concept, layer) tests"),
        ("not learnable", str(not_learnable), "CAVs at chance"),
        ("classes × concepts", f"{len(content.classes)} × {len({r['concept'] for r in rows})}",
         f"{len(content.bottlenecks)} layer(s)"),
    ]
    card_html = "".join(f"<div class='card'>{_e(a)}<b>{_e(b)}</b><small>{_e(c)}</small></div>" for a, b, c in cards)
    notes = "".join(f'<p class="note">{_e(note)}</p>' for note in content.notes)
    nav = ['<a href="#findings">Findings</a>', '<a href="#how">How to read</a>']
    sections = []
    for section_id, heading, charts in content.sections:
        nav.append(f'<a href="#{_e(section_id)}">{_e(heading)}</a>')
        # A chart with its own how-to-read keeps the text above it and the whole row of a grid.
        figures = "".join(
            (f'<figure class="wide"><p class="how"><b>How to read this.</b> {_e(chart.how_to_read)}</p>'
             if chart.how_to_read else "<figure>")
            + f'<img src="{data_uri(chart.png)}" alt="{_e(chart.name)}">'
            f"<figcaption>{_e(chart.caption or chart.name)} · <code>plots/{_e(chart.name)}</code></figcaption></figure>"
            for chart in charts
        )
        if section_id in OPEN_SECTIONS:
            body = f'<div class="charts">{figures}</div>' if section_id in GRID_SECTIONS else figures
            sections.append(f'<section id="{_e(section_id)}"><h2>{_e(heading)}</h2>{body}</section>')
        else:
            sections.append(fold(section_id, heading, f"{len(charts)} chart(s)", f'<div class="charts">{figures}</div>'))
    nav += ['<a href="#scores-table">Scores table</a>', '<a href="#params">Parameters</a>']
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{_e(content.title)}</title><link rel="icon" href="data:,"><style>{STYLE}</style></head>
<body><main>
<h1>{_e(content.title)}</h1>
<nav>{''.join(nav)}</nav>
{notes}
<div class="summary">{card_html}</div>
<section id="findings"><h2>Findings</h2>
{start_here(rows, content.bottlenecks)}
{LEGEND}
{content.accuracy_html}
{confirmed_findings(rows, content.truth)}
{small_set_findings(rows, content.min_concept_images)}
<p>Significant means: {_e(content.decision_text)}.</p>
{findings(rows, content.classes, content.bottlenecks)}</section>
{fold("how", "How to read this", "the score, the random band, significance, the insertion, scene and object tests",
      HOW_TO_READ.format(conf=content.confidence, decision=_e(content.decision_text),
                         precision_text=MEASURED_PRECISION))}
{''.join(sections)}
<section id="scores-table"><h2>Scores table</h2>{scores_table(rows, content.classes)}</section>
{fold("params", "Parameters of this run", "the values of params.yaml as the run read them (its comments are in the file)", f"<pre>{_e(content.params_text)}</pre>")}
</main><script>{SCRIPT}</script></body></html>
"""
