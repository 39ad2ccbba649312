# Helpers shared by the bench scripts (sourced).

# free_port prints a TCP port on 127.0.0.1 that nothing listens on now.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_port HOST PORT waits up to 10 s for a listener.
wait_port() {
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0
		sleep 0.1
	done
	echo "nothing listens on $1:$2" >&2
	return 1
}

# build_ferry builds the ferry binary into $1.
build_ferry() {
	go build -o "$1" ./cmd/ferry
}
