#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# paper-guest.sh - bench/paper's agent inside a VM guest (busybox sh).  The
# guest boots once per experiment and runs many measurement points; the
# host tells it what to run, when, over a second serial port (ttyS1, a
# unix-socket chardev on the host), one line per command:
#
#   ID run CMD ARGS...   start CMD in the background (exec'd, no shell
#                        syntax); when it ends print on the console
#                          VCAP-PAPER: ID rc=N out <stdout> err <stderr tail>
#   ID stop OTHER        SIGINT to the command started as OTHER
#   ID quit              end the agent (the guest powers off)
#
# and `paper-guest.sh bound N [TIMEOUT_S]` (run through `run`) returns once
# N packet sockets (ETH_P_ALL) are bound and running, which tells the host
# that the guest's AF_PACKET consumers are ready.
#
#   usage: vcap.run="paper-guest.sh serve [TTY]"
set -u

case ${1:-} in
bound)
	n=$2 i=0 lim=$((${3:-60} * 50))
	while [ "$(awk 'NR > 1 && $4 == 3 && $6 == 1 { c++ } END { print c + 0 }' /proc/net/packet)" -lt "$n" ]; do
		i=$((i + 1))
		[ $i -lt $lim ] || exit 1
		usleep 20000
	done
	exit 0
	;;
serve) ;;
*)
	echo "usage: paper-guest.sh serve [TTY] | bound N [TIMEOUT_S]" >&2
	exit 2
	;;
esac

tty=${2:-/dev/ttyS1}
[ -c "$tty" ] || { echo "VCAP-PAPER: agent failed: no $tty"; exit 1; }
stty -F "$tty" raw -echo 2>/dev/null
exec 3<"$tty"
cd /tmp || exit 1
echo "VCAP-PAPER: agent up"
while read -r id verb rest <&3; do
	case $verb in
	run)
		(
			# shellcheck disable=SC2086 # word splitting of the command is wanted
			sh -c "exec $rest" >"/tmp/$id.out" 2>"/tmp/$id.err" &
			echo $! >"/tmp/$id.pid"
			wait $!
			rc=$?
			echo "VCAP-PAPER: $id rc=$rc out $(tr '\n' ' ' <"/tmp/$id.out") err $(tail -c 300 "/tmp/$id.err" | tr '\n' ' ')"
			rm -f "/tmp/$id.out" "/tmp/$id.err"
		) &
		;;
	stop)
		[ -r "/tmp/$rest.pid" ] && kill -INT "$(cat "/tmp/$rest.pid")" 2>/dev/null
		;;
	quit)
		echo "VCAP-PAPER: agent quits"
		break
		;;
	*)
		echo "VCAP-PAPER: $id rc=127 out  err unknown command $verb"
		;;
	esac
done
wait
exit 0
