#!/usr/bin/env python3
"""Replays the ci speed phase's stopping rule on the samples of a run_all.sh timing session.

Usage: Results/ci/replay-speed-rule.py Reports/timing/<session>/
Each timing-*.json holds one variant's per-round times and the reference's from the same rounds (TimingCache).
For each group (the variants timed together) and each candidate rule (half-width, time limit, fewest rounds; at
most 20 rounds), it finds the round where the rule would have stopped: every speed-up's 95% t interval on the
per-round log-ratios within the half-width, or the seconds of rounds past the limit. It prints the seconds of
rounds and how many speed-ups (training and inference, per variant) would end wider than the half-width.
A replay can only stop earlier than the recorded run, never later, so rules looser than the recorded one are
exact and stricter ones are lower bounds.
"""
import glob, json, math, statistics, sys
from collections import defaultdict

# Two-sided 95% t quantiles, degrees of freedom 1..30.
T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042]

def half_width(ref, var):
    """Relative half-width of the speed-up's 95% interval, as SpeedupInterval.paired computes it."""
    lr = [math.log(a / b) for a, b in zip(ref, var)]
    if len(lr) < 2:
        return math.inf
    return math.exp(T975[len(lr) - 2] * statistics.stdev(lr) / math.sqrt(len(lr))) - 1

groups = defaultdict(list)
for f in sorted(glob.glob(sys.argv[1].rstrip('/') + '/timing-*.json')):
    t = json.load(open(f))['timing']
    groups[t['timedIn']].append(t)

rules = [(0.10, 60, 5), (0.10, 30, 5), (0.15, 30, 5), (0.15, 30, 4), (0.15, 30, 3), (0.15, 25, 4), (0.20, 30, 4)]
print(f"{len(groups)} groups, {sum(len(v) for v in groups.values())} variants\n")
print("| half-width | time limit | fewest rounds | seconds of rounds | speed-ups wider than the half-width |")
print("|---:|---:|---:|---:|---:|")
for hw, limit, fewest in rules:
    total, unstable, rows = 0.0, 0, 0
    for ts in groups.values():
        n = len(ts[0]['referenceTrainMs'])
        secs = [(ts[0]['referenceTrainMs'][i] + ts[0]['referenceInferenceMs'][i]
                 + sum(t['trainMs'][i] + t['inferenceMs'][i] for t in ts)) / 1000 for i in range(n)]
        spent, stop = 0.0, n
        for k in range(1, n + 1):
            spent += secs[k - 1]
            if k >= fewest:
                widest = max(max(half_width(t['referenceTrainMs'][:k], t['trainMs'][:k]),
                                 half_width(t['referenceInferenceMs'][:k], t['inferenceMs'][:k])) for t in ts)
                if widest <= hw or spent >= limit or k == 20:
                    stop = k
                    break
        total += spent
        for t in ts:
            for ref, var in ((t['referenceTrainMs'], t['trainMs']), (t['referenceInferenceMs'], t['inferenceMs'])):
                rows += 1
                unstable += half_width(ref[:stop], var[:stop]) > hw
    print(f"| ±{100 * hw:.0f}% | {limit} s | {fewest} | {total:.0f} | {unstable} of {rows} |")
