# The host side of a guest's NIC, for the lab cases and the bench (sourced):
# a tap with an address. arkvm never makes one itself. (busybox has tunctl;
# iproute2 has ip tuntap.)
#   net_host_up TAP ADDR/PREFIX, net_host_down TAP
net_host_up() {
	if command -v tunctl > /dev/null; then
		tunctl -t "$1" > /dev/null
	else
		ip tuntap add dev "$1" mode tap
	fi && ip addr add "$2" dev "$1" && ip link set "$1" up
}
net_host_down() {
	ip link del "$1" 2> /dev/null || tunctl -d "$1" > /dev/null 2>&1
}
