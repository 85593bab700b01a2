/*
 * The HTTP client the booted board's checks run inside the guest, built by the same
 * zig toolchain as mote (static, ARMv6, so one binary runs on both boards). busybox
 * wget makes one request per connection; io_uring batching only shows under several
 * keep-alive connections at once, which is what `load` makes.
 *
 *   mote-client load ADDR:PORT PATH CONNS REQUESTS FILE
 *       CONNS connections at once (one process each), each sending REQUESTS GETs for
 *       PATH one after another on one keep-alive connection; every answer must be a
 *       200 whose body is byte-equal to FILE. Prints one summary line; exits 1 on
 *       the first wrong answer (and says which).
 *   mote-client send ADDR:PORT REQUEST
 *       sends REQUEST (with \r and \n written as escapes) and copies every byte the
 *       server sends to stdout until it closes the connection.
 *
 * Every socket has a 20 s receive and send timeout, so a server that stops answering
 * ends the client with an error instead of hanging the boot.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#define IO_TIMEOUT_SECS 20
#define MAX_HEAD 16384

static const char *prog = "mote-client";

static void die(const char *what) {
	fprintf(stderr, "%s: %s\n", prog, what);
	exit(1);
}

static int connect_to(const char *addr) {
	char host[64];
	const char *colon = strrchr(addr, ':');
	if (!colon || (size_t)(colon - addr) >= sizeof host)
		die("address must be IPV4:PORT");
	memcpy(host, addr, colon - addr);
	host[colon - addr] = 0;
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(atoi(colon + 1))};
	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
		die("address must be IPV4:PORT");
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		die("socket failed");
	struct timeval tv = {.tv_sec = IO_TIMEOUT_SECS};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0) {
		fprintf(stderr, "%s: connect to %s: %s\n", prog, addr, strerror(errno));
		exit(1);
	}
	return fd;
}

static void write_all(int fd, const char *p, size_t n) {
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			die("write failed");
		p += w;
		n -= (size_t)w;
	}
}

static char *read_file(const char *path, size_t *len) {
	FILE *f = fopen(path, "rb");
	if (!f)
		die("cannot open the expected file");
	struct stat st;
	if (fstat(fileno(f), &st) != 0)
		die("cannot stat the expected file");
	char *buf = malloc(st.st_size + 1);
	if (!buf || fread(buf, 1, st.st_size, f) != (size_t)st.st_size)
		die("cannot read the expected file");
	fclose(f);
	*len = st.st_size;
	return buf;
}

/* Reads one whole response into buf (growing it as needed) and returns its status;
 * *body points at its body, *body_len is its Content-Length. The request was the only
 * one in flight, so a byte past the body is an error, as is a missing Content-Length. */
static int read_response(int fd, char **buf, size_t *cap, const char **body, size_t *body_len) {
	size_t n = 0, head_len = 0, total = 0;
	for (;;) {
		if (n == *cap) {
			*cap *= 2;
			if (!(*buf = realloc(*buf, *cap)))
				die("out of memory");
		}
		ssize_t r = read(fd, *buf + n, *cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die(errno == EAGAIN ? "timed out waiting for a response" : "read failed");
		if (r == 0)
			die("connection closed before a whole response");
		n += (size_t)r;
		if (head_len == 0) {
			char *end = memmem(*buf, n, "\r\n\r\n", 4);
			if (!end) {
				if (n > MAX_HEAD)
					die("response head too long");
				continue;
			}
			head_len = (size_t)(end - *buf) + 4;
			long content_length = -1;
			for (char *line = memmem(*buf, head_len, "\r\n", 2); line && line + 2 < *buf + head_len - 2;
			     line = memmem(line + 2, head_len - (size_t)(line + 2 - *buf), "\r\n", 2))
				if (strncasecmp(line + 2, "Content-Length:", 15) == 0)
					content_length = strtol(line + 17, NULL, 10);
			if (content_length < 0)
				die("response without Content-Length");
			*body_len = (size_t)content_length;
			total = head_len + *body_len;
		}
		if (n > total)
			die("bytes past the end of the response");
		if (n == total)
			break;
	}
	if (n < 9 || memcmp(*buf, "HTTP/1.1 ", 9) != 0)
		die("not an HTTP/1.1 response");
	*body = *buf + head_len;
	return atoi(*buf + 9);
}

static void one_connection(const char *addr, const char *path, long requests, const char *want, size_t want_len) {
	char request[1024];
	int len = snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: board\r\n\r\n", path);
	if (len <= 0 || (size_t)len >= sizeof request)
		die("path too long");
	size_t cap = MAX_HEAD + want_len;
	char *buf = malloc(cap);
	if (!buf)
		die("out of memory");
	int fd = connect_to(addr);
	for (long i = 0; i < requests; i++) {
		write_all(fd, request, (size_t)len);
		const char *body;
		size_t body_len;
		int status = read_response(fd, &buf, &cap, &body, &body_len);
		if (status != 200) {
			fprintf(stderr, "%s: request %ld answered %d, not 200\n", prog, i + 1, status);
			exit(1);
		}
		if (body_len != want_len || memcmp(body, want, want_len) != 0) {
			fprintf(stderr, "%s: request %ld: the body (%zu bytes) differs from the file (%zu bytes)\n", prog,
				i + 1, body_len, want_len);
			exit(1);
		}
	}
	close(fd);
	exit(0);
}

static int load(char **argv) {
	const char *addr = argv[0], *path = argv[1];
	long conns = atol(argv[2]), requests = atol(argv[3]);
	size_t want_len;
	char *want = read_file(argv[4], &want_len);
	if (conns < 1 || requests < 1)
		die("CONNS and REQUESTS must be positive");
	for (long c = 0; c < conns; c++) {
		pid_t pid = fork();
		if (pid < 0)
			die("fork failed");
		if (pid == 0)
			one_connection(addr, path, requests, want, want_len);
	}
	long failed = 0;
	int status;
	while (wait(&status) > 0)
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failed++;
	printf("%ld connections x %ld requests, %ld connections failed\n", conns, requests, failed);
	return failed == 0 ? 0 : 1;
}

static int send_raw(char **argv) {
	const char *in = argv[1];
	size_t n = strlen(in), len = 0;
	char *request = malloc(n + 1);
	if (!request)
		die("out of memory");
	for (size_t i = 0; i < n; i++) {
		if (in[i] == '\\' && i + 1 < n && (in[i + 1] == 'r' || in[i + 1] == 'n')) {
			request[len++] = in[i + 1] == 'r' ? '\r' : '\n';
			i++;
		} else {
			request[len++] = in[i];
		}
	}
	int fd = connect_to(argv[0]);
	write_all(fd, request, len);
	char buf[4096];
	for (;;) {
		ssize_t r = read(fd, buf, sizeof buf);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die(errno == EAGAIN ? "timed out waiting for the server to close" : "read failed");
		if (r == 0)
			break;
		if (fwrite(buf, 1, (size_t)r, stdout) != (size_t)r)
			die("write to stdout failed");
	}
	return fflush(stdout) == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
	if (argc == 7 && strcmp(argv[1], "load") == 0)
		return load(argv + 2);
	if (argc == 4 && strcmp(argv[1], "send") == 0)
		return send_raw(argv + 2);
	fprintf(stderr, "usage: %s load ADDR:PORT PATH CONNS REQUESTS FILE\n"
			"       %s send ADDR:PORT REQUEST\n", prog, prog);
	return 2;
}
