"""The hybrid terminal as a Gymnasium environment: a scripted policy runs a few lines and keys,
and every observation is both the drawn frame and the exact screen.

    python examples/gym_terminal.py --renderer raster
"""

from __future__ import annotations

import argparse

import gymnasium

import hybrid_nc  # noqa: F401  (registers hybrid_nc/Terminal-v0)
from hybrid_nc.gym_env import TerminalEnv

POLICY = [TerminalEnv.line("echo hello from gymnasium"), TerminalEnv.line("((1 + 2) * 3) ^ 2"),
          TerminalEnv.typed("ls /nope"), TerminalEnv.press("ctrl+c")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--renderer", default="neural", help="neural (default) or raster")
    args = ap.parse_args()
    env = gymnasium.make("hybrid_nc/Terminal-v0", renderer=args.renderer, render_mode="ansi",
                         cols=60, rows=12)
    obs, info = env.reset(seed=0)
    for action in POLICY:
        obs, reward, terminated, truncated, info = env.step(action)
        row, col = (int(v) for v in obs["cursor"])
        print(f"route={info['route']} frame={obs['frame'].shape} cursor=({row}, {col})")
        if terminated or truncated:
            break
    print(env.render().rstrip())
    env.close()


if __name__ == "__main__":
    main()
