"""``python tests/signal_at.py POINT:N:SIG [train arguments]``: ``python -m amago_edu.train`` whose N-th visit to POINT
sends SIG to the process itself, for tests/system/test_crash_resume.py (a kill at a random time would rarely land inside
the short windows that matter). Points, as the training loop's callbacks see them: ``collect`` (a replay file was
just written, mid-collection), ``update`` (after the optimizer step, before the update is counted, logged or
checkpointed) and ``checkpoint`` (the new checkpoint is in its temporary file, not yet renamed over latest.pt)."""

import os
import signal
import sys

from amago_edu.train import main


class SignalAt:
    def __init__(self, spec: str):
        self.point, count, name = spec.split(":")
        self.count, self.signal, self.visits = int(count), getattr(signal, "SIG" + name), 0

    def visit(self, point: str) -> None:
        if point == self.point:
            self.visits += 1
            if self.visits == self.count:
                os.kill(os.getpid(), self.signal)

    def on_trajectory(self, traj) -> None:
        self.visit("collect")

    def on_update(self, stats) -> None:
        self.visit("update")

    def on_checkpoint_written(self, path) -> None:
        self.visit("checkpoint")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[2:], callbacks=[SignalAt(sys.argv[1])]))
