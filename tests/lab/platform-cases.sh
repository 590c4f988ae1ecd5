# The platform cases (the clock, the interrupt controller), sourced by
# cases.sh (its helpers: boot, pass, fail, show, why, info).
pfield() { sed -n "s/^$2=//p" "$tmp/$1.log" | head -n 1; }

# --- the PL031 real-time clock --------------------------------------------------

# The guest's kernel sets its clock from the RTC at boot (RTC_HCTOSYS), so
# its first `date +%s` is this host's time, give or take the boot. Then it
# sets the RTC (hwclock -w writes RTCLR) and reads the count back.
cat > "$tmp/rtc.in" <<'GUEST'
echo "RTC-GUEST=$(date +%s)"
echo "RTC-DEV=$(cat /sys/class/rtc/rtc0/name 2>/dev/null)"
date -s @1000000000 >/dev/null && hwclock -w -u && echo "RTC-SET=$(cat /sys/class/rtc/rtc0/since_epoch)"
poweroff -f
GUEST
t0=$(date +%s)
boot rtc --cmdline "quiet arkvm.test=shell" < "$tmp/rtc.in"
t1=$(date +%s)
guest_t=$(pfield rtc RTC-GUEST)
info "rtc: level 1 $t0..$t1, the guest $guest_t, its RTC '$(pfield rtc RTC-DEV)'"
if [ $rc -ne 0 ] || [ -z "$guest_t" ]; then
	fail rtc-guest-clock-is-hosts "$(why $rc), no time from the guest"; show rtc
elif [ "$guest_t" -lt $((t0 - 5)) ] || [ "$guest_t" -gt $((t1 + 5)) ]; then
	fail rtc-guest-clock-is-hosts "the guest says $guest_t, level 1 ran it $t0..$t1"; show rtc
elif ! pfield rtc RTC-DEV | grep -q pl031; then
	fail rtc-guest-clock-is-hosts "rtc0 is '$(pfield rtc RTC-DEV)', not the PL031"; show rtc
else
	pass rtc-guest-clock-is-hosts
fi
set_t=$(pfield rtc RTC-SET)
if [ -n "$set_t" ] && [ "$set_t" -ge 1000000000 ] && [ "$set_t" -le 1000000005 ]; then
	pass rtc-guest-sets-its-clock
else
	fail rtc-guest-sets-its-clock "after hwclock -w of 1000000000 the RTC read '$set_t'"
	show rtc
fi
