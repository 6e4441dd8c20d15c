# SPDX-License-Identifier: BSD-3-Clause
"""The common start of the reports' gnuplot scripts, and running gnuplot.

Each report writes its series to a .dat file next to the PNG, hands the
script to gnuplot on stdin and removes the .dat file: only the PNG stays.
"""
import os
import subprocess
import sys

# the frame sizes every benchmark sweeps, as x tics on a log-2 axis
SIZES = (64, 128, 256, 512, 1024, 1500)


def terminal(png, size, font):
    """A PNG of SIZE ("W,H") pixels, text in FONT points."""
    return f'set terminal pngcairo size {size} font ",{font}"\nset output "{png}"\n'


def size_axis(sizes=SIZES):
    """An x axis of frame sizes: log 2, one tic per size."""
    return "set logscale x 2\nset xtics (" + ", ".join(str(x) for x in sizes) + ")\n"


def size_plot(png, title, ylabel, key):
    """A one-panel plot of some value against the frame size (capture.png,
    ring.png): y from 0, a grid, the key at KEY."""
    return ("\n" + terminal(png, "900,520", 11) + f'set title "{title}"\n'
            'set xlabel "frame size (bytes)"\n' f'set ylabel "{ylabel}"\n' + size_axis()
            + f"set yrange [0:*]\nset grid\nset key {key}\n")


def multiplot(png, size, layout, title, sizes=None, xlabel="frame size (bytes)"):
    """The start of a figure of panels (bench/paper's): over frame sizes on a
    log 2 axis, or over rates on a log 10 one if SIZES is None."""
    g = terminal(png, size, 10) + f'set multiplot layout {layout} title "{title}"\nset grid\n'
    g += size_axis(sizes) if sizes else "set logscale x\n"
    return g + f'set xlabel "{xlabel}"\n'


def run(script, dat):
    """Plot; a gnuplot error ends the report (the .dat file is kept to look at)."""
    subprocess.run(["gnuplot"], input=script, text=True, check=True)
    os.remove(dat)


def run_tolerant(script, dat, who):
    """Plot, text taken literally (no enhanced-text markup: titles hold "_");
    a gnuplot error is reported on stderr and the report goes on without the
    PNG.  The .dat file goes either way."""
    script = script.replace('font ",10"\n', 'font ",10" noenhanced\n', 1)
    try:
        subprocess.run(["gnuplot"], input=script, text=True, check=True, capture_output=True)
    except subprocess.CalledProcessError as e:
        print(f"{who}: gnuplot: {e.stderr.strip()[-500:]}", file=sys.stderr)
    finally:
        if os.path.exists(dat):
            os.remove(dat)
