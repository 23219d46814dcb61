#!/usr/bin/env bash
# Cold boots side by side, over and over, to catch what happens once in hundreds of boots (issue
# 27's CI hangs): each round starts 5 `testin run --no-snapshot` at once (exit codes 0 1 42 255 7)
# and records each run's code and time in OUT/results; a run whose code is wrong keeps its
# stderr (OUT/run-ROUND-CODE.err: the boot deadline's line says what the host saw, and the
# console's last lines the kernel's errors), and so does a run that had to start its VM again
# ("starting it again"). Found 2026-12-06: 1 boot in ~330 lost a vCPU's timer (an RCU stall on
# the console) and stood still until its deadline; since 3d85a9d such a boot is started again.
# Run by hand, as root, after `bash .ci/setup` and `npm run build`; stop it with `touch OUT/stop`.
#   bash test/manual/cold-boot-soak.sh [OUT (default /tmp/testin-soak)] [extra --kernel-cmdline words]
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${1:-/tmp/testin-soak}
words=${2:-}
mkdir -p "$out"
rm -f "$out/stop"
image=testin-test/busybox:1
round=0
while [ ! -e "$out/stop" ]; do
  round=$((round + 1))
  for code in 0 1 42 255 7; do
    (
      base="$out/run-$round-$code"
      start=$(date +%s%N)
      timeout -s TERM 120 node dist/launcher/bin.js run --no-snapshot --boot-timeout 45s \
        ${words:+--kernel-cmdline "$words"} --image "$image" -- sh -c "exit $code" >/dev/null 2>"$base.err"
      rc=$?
      echo "$round $code rc=$rc ms=$((($(date +%s%N) - start) / 1000000))" >>"$out/results"
      if [ "$rc" != "$code" ]; then
        echo "WRONG $round $code rc=$rc" >>"$out/results"
      elif grep -q 'starting it again' "$base.err"; then
        echo "RESTARTED $round $code" >>"$out/results"
      else
        rm -f "$base.err"
      fi
    ) &
  done
  wait
done
echo "$(grep -c 'rc=' "$out/results") runs; wrong: $(grep -c '^WRONG' "$out/results"); started again: $(grep -c '^RESTARTED' "$out/results")"
