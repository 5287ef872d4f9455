"""Two diagrams of the method, drawn as SVG by code (no plotting library), committed under ``data/figures/``.

- :func:`architecture`: the agent as the paper's Fig. 2 draws it: one token per timestep (observation, previous
  action, previous reward, reset flag), a causal Transformer over the whole trial, and on every output an actor
  head and a critic ensemble, each with one output per discount factor (two-hot bins for the critic).
- :func:`trial_timeline`: a trial of k attempts at one task, the resets between them, and what the Transformer's
  context holds when it acts in a later attempt.

``python -m amago_edu.diagrams`` rewrites both files; a test checks the committed files are what the code draws.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from ..results import DATA_DIR

FIGURES = DATA_DIR / "figures"
FONT = "font-family='Helvetica, Arial, sans-serif'"
BLUE, ORANGE, GREEN, GREY, PURPLE = "#4C78A8", "#F58518", "#54A24B", "#9D9D9D", "#B279A2"


class _Canvas:
    def __init__(self, width: int, height: int):
        self.width, self.height, self.items = width, height, []

    def box(self, x, y, w, h, fill, text="", size=13, colour="white", radius=6):
        self.items.append(f"<rect x='{x}' y='{y}' width='{w}' height='{h}' rx='{radius}' fill='{fill}'/>")
        if text:
            lines = text.split("\n")
            top = y + h / 2 - (len(lines) - 1) * size * 0.6
            for i, line in enumerate(lines):
                self.text(x + w / 2, top + i * size * 1.2, line, size=size, colour=colour)

    def text(self, x, y, text, size=13, colour="#222", anchor="middle", weight="normal"):
        self.items.append(f"<text x='{x}' y='{y}' {FONT} font-size='{size}' fill='{colour}' text-anchor='{anchor}' "
                          f"dominant-baseline='middle' font-weight='{weight}'>{escape(text)}</text>")

    def arrow(self, x1, y1, x2, y2, colour="#444", dashed=False):
        dash = " stroke-dasharray='4 3'" if dashed else ""
        self.items.append(f"<line x1='{x1}' y1='{y1}' x2='{x2}' y2='{y2}' stroke='{colour}' stroke-width='1.5'"
                          f"{dash} marker-end='url(#head)'/>")

    def svg(self) -> str:
        head = ("<marker id='head' viewBox='0 0 10 10' refX='9' refY='5' markerWidth='7' markerHeight='7' "
                "orient='auto-start-reverse'><path d='M 0 0 L 10 5 L 0 10 z' fill='#444'/></marker>")
        return (f"<svg xmlns='http://www.w3.org/2000/svg' width='{self.width}' height='{self.height}' "
                f"viewBox='0 0 {self.width} {self.height}'><defs>{head}</defs>"
                f"<rect width='100%' height='100%' fill='white'/>" + "".join(self.items) + "</svg>\n")


def architecture(steps: int = 5, gammas: int = 3, critics: int = 4) -> str:
    """The agent of AMAGO-2 (Fig. 2): tokens -> causal Transformer -> actor and critic heads at every step."""
    c = _Canvas(860, 470)
    c.text(430, 18, "AMAGO-2: one causal Transformer over the whole trial, trained by both losses", 15, weight="bold")
    x0, dx = 150, 130
    for t in range(steps):
        x = x0 + t * dx
        label = f"t = {t}" if t < steps - 1 else "t"
        c.text(x + 45, 440, label, 12, "#555")
        c.box(x, 380, 90, 44, GREY, "o_t, a_t-1,\nr_t-1, reset", 11)
        c.arrow(x + 45, 380, x + 45, 352)
        c.box(x, 322, 90, 28, BLUE, "token e_t", 12)
        c.arrow(x + 45, 322, x + 45, 292)
        c.arrow(x + 45, 222, x + 45, 190)
        c.box(x, 160, 90, 28, BLUE, "state s_t", 12)
        c.arrow(x + 30, 160, x + 30, 122)
        c.arrow(x + 60, 160, x + 60, 122)
        c.box(x - 8, 66, 52, 54, ORANGE, f"actor\n{gammas} x pi", 11)
        c.box(x + 48, 66, 52, 54, GREEN, f"critics\n{critics} x {gammas}\nx bins", 10)
    c.box(x0 - 10, 224, (steps - 1) * dx + 110, 66, PURPLE,
          "causal Transformer: step t attends to steps 0..t of the trial (the earlier attempts included)", 13)
    c.text(70, 401, "timestep", 12, anchor="middle")
    c.text(70, 417, "inputs", 12, anchor="middle")
    c.text(70, 336, "encoder", 12)
    c.text(70, 174, "Transformer", 12)
    c.text(70, 188, "output", 12)
    c.text(70, 88, "heads", 12)
    c.text(70, 104, "(one per gamma)", 11, "#555")
    c.text(430, 46, "actor: filtered BC, -1[A > 0] log pi(a|s) (Eq. 4)    critic: two-hot cross-entropy (Eq. 3); "
           "A = Q(s, a) - V(s)", 12, "#333")
    return c.svg()


def trial_timeline(attempts: int = 3, steps: int = 6) -> str:
    """A trial of k attempts at one task; the context that the agent acts from in the last attempt."""
    c = _Canvas(860, 250)
    c.text(430, 18, "A trial: k attempts at the same task; the context spans all of them", 15, weight="bold")
    x, w, gap = 40, 34, 26
    colours = (BLUE, ORANGE, GREEN, PURPLE)
    starts = []
    for k in range(attempts):
        starts.append(x)
        c.text(x + steps * w / 2, 52, f"attempt {k + 1}", 13, colours[k % 4], weight="bold")
        for t in range(steps):
            c.box(x + t * w + 2, 66, w - 4, 34, colours[k % 4], "R" if t == 0 else "", 12)
        c.text(x + steps * w / 2, 116, "hole, goal or time limit ends it", 10, "#555")
        x += steps * w + gap
    last = starts[-1] + (steps - 2) * w + 2
    c.box(last, 66, w - 4, 34, "#222", "now", 11)
    c.items.append(f"<rect x='{starts[0]}' y='140' width='{last + w - 4 - starts[0]}' height='26' rx='4' "
                   f"fill='none' stroke='#222' stroke-dasharray='5 3'/>")
    c.text((starts[0] + last + w) / 2, 153, "the Transformer's context when it acts now: every step of the trial so far",
           12)
    c.text(430, 190, "R = reset flag: a new attempt starts on the same map; the task (and its map) change only "
           "when a new trial starts", 12, "#333")
    c.text(430, 212, "the agent adapts in context: with fixed weights, what it met in attempt 1 changes how it acts "
           "in attempt 2", 12, "#333")
    c.text(430, 234, "(a context shorter than an attempt forgets it: notebook 05)", 12, "#555")
    return c.svg()


DIAGRAMS = {"architecture.svg": architecture, "trial_timeline.svg": trial_timeline}


def write(folder: Path = FIGURES) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, draw in DIAGRAMS.items():
        (folder / name).write_text(draw())
        paths.append(folder / name)
    return paths


if __name__ == "__main__":
    for path in write():
        print(f"wrote {path}")
