# The CPU feature and topology cases (issue 24), sourced by cases.sh (its
# helpers: boot, pass, fail, show, why). Level 1 is QEMU's -cpu max, which
# has SVE, pointer authentication and a PMU, with a KVM that offers them
# and stolen time; so every feature is on by default here.
cpufield() { sed -n "s/^$2=//p" "$tmp/$1.log" | head -n 1; }

cat > "$tmp/cpu.in" <<'GUEST'
echo "CPU-FEAT=$(grep -m1 '^Features' /proc/cpuinfo | sed 's/^Features[^:]*://')"
echo "CPU-N=$(grep -c '^processor' /proc/cpuinfo)"
echo "PMU-DEV=$(ls -d /sys/bus/event_source/devices/armv8_pmuv3* 2>/dev/null | head -n 1)"
if command -v pmu-tool > /dev/null; then echo "PMU-CYCLES=$(pmu-tool 2>&1)"; fi
echo "STAT-COLS=$(awk '$1 == "cpu" { print NF }' /proc/stat)"
echo "STEAL-MSG=$(dmesg | grep -c 'stolen time')"
for c in 0 1; do
	t=/sys/devices/system/cpu/cpu$c/topology
	echo "TOPO$c=$(cat $t/physical_package_id),$(cat $t/core_id),$(cat $t/thread_siblings_list)"
done
poweroff -f
GUEST

# Every feature by default, and a topology of one core with two threads.
boot cpu-features --cpus 2,threads=2 --stats --cmdline "quiet arkvm.test=shell" < "$tmp/cpu.in"
feat=" $(cpufield cpu-features CPU-FEAT) "
if [ $rc -ne 0 ] || [ "$(cpufield cpu-features CPU-N)" != 2 ]; then
	fail cpu-features-default-on "$(why $rc), $(cpufield cpu-features CPU-N) CPUs"
	show cpu-features
else
	missing=
	for f in sve paca pacg; do
		case "$feat" in *" $f "*) ;; *) missing="$missing $f" ;; esac
	done
	if [ -n "$missing" ]; then
		fail cpu-features-default-on "/proc/cpuinfo lacks$missing:$feat"
	elif ! grep -q 'CPU features: sve on.*pauth on, pmu on, steal-time on' "$tmp/cpu-features.err"; then
		fail cpu-features-default-on "--stats does not say every feature is on"
		show cpu-features
	else
		pass cpu-features-default-on
	fi
fi
pmu_dev=$(cpufield cpu-features PMU-DEV)
cycles=$(cpufield cpu-features PMU-CYCLES)
# Linux names a device-tree PMU armv8_pmuv3 (6.1), or armv8_pmuv3_0 where it numbers them.
case "${pmu_dev##*/}" in armv8_pmuv3|armv8_pmuv3_0) pmu_ok=true ;; *) pmu_ok=false ;; esac
if ! $pmu_ok; then
	fail cpu-pmu-counts-cycles "no armv8_pmuv3 PMU in the guest ('$pmu_dev')"
elif [ -n "$cycles" ] && ! [ "$cycles" -gt 0 ] 2>/dev/null; then
	fail cpu-pmu-counts-cycles "the guest's cycle counter read '$cycles'"
else
	pass "cpu-pmu-counts-cycles (${pmu_dev##*/}: ${cycles:-no pmu-tool, device only} cycles)"
fi
# /proc/stat: "cpu" then user nice system idle iowait irq softirq steal guest guest_nice.
if [ "$(cpufield cpu-features STAT-COLS)" -ge 9 ] 2>/dev/null &&
    [ "$(cpufield cpu-features STEAL-MSG)" -ge 1 ] 2>/dev/null; then
	pass cpu-steal-time
else
	fail cpu-steal-time "the guest did not say it uses stolen time ($(cpufield cpu-features STEAL-MSG) lines)"
	show cpu-features
fi
# One socket, one core, its two threads siblings.
if [ "$(cpufield cpu-features TOPO0)" = "0,0,0-1" ] &&
    [ "$(cpufield cpu-features TOPO1)" = "0,0,0-1" ]; then
	pass cpu-topology-threads
else
	fail cpu-topology-threads "cpu0 '$(cpufield cpu-features TOPO0)', cpu1 '$(cpufield cpu-features TOPO1)', expected 0,0,0-1"
fi

# Turned off: no SVE, no PMU; no topology given: two cores as before.
boot cpu-features-off --cpus 2 --cpu-features sve=off,pmu=off --cmdline "quiet arkvm.test=shell" \
	< "$tmp/cpu.in"
feat=" $(cpufield cpu-features-off CPU-FEAT) "
case "$feat" in
*" sve "*) fail cpu-features-off "sve=off, yet the guest has sve:$feat" ;;
*)
	if [ $rc -ne 0 ] || [ -n "$(cpufield cpu-features-off PMU-DEV)" ]; then
		fail cpu-features-off "$(why $rc), PMU '$(cpufield cpu-features-off PMU-DEV)'"
		show cpu-features-off
	elif [ "$(cpufield cpu-features-off TOPO1)" = "$(cpufield cpu-features-off TOPO0)" ]; then
		fail cpu-features-off "without a topology both vCPUs show as one core"
	else
		pass cpu-features-off
	fi ;;
esac
