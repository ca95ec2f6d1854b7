/*
 * connect_loop: the floor for lvsd's connect-only TCP checks. It connects
 * to every target in a file and closes, at a fixed rate, the way a minimal
 * C health checker would: non-blocking sockets, one epoll instance, no
 * threads. The connects are started in batches 100 times a second (as
 * lvsd's batches fire), each target once per round, and their results
 * read when epoll reports them. It prints the CPU time (getrusage) that
 * the process spent per completed connect during the measured window.
 *
 * Non-blocking connects with epoll are the honest minimum for this load:
 * a blocking connect per check would need as many threads as connects
 * in flight against a slow realserver, and one thread pacing blocking
 * connects could not keep 10,000 a second once a server is 1 ms away.
 *
 * usage: connect_loop TARGETS RATE WARMUP_S MEASURE_S TIMEOUT_MS LINGER0
 *   TARGETS  a file of "address port" lines (IPv4 or IPv6)
 *   RATE     connects started per second
 *   LINGER0  1: close a connected socket with SO_LINGER 0 (a RST), as
 *            lvsd does; 0: a plain close (a FIN, TIME_WAIT here)
 *
 * Output, one line: ok=N err=N timeout=N cpu_us=N us_per_connect=F
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TICKS_PER_S 100
#define MAXFD 65536

struct target {
	struct sockaddr_storage sa;
	socklen_t len;
	int family;
};

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long long cpu_us(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000LL +
	       ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

static struct target *load(const char *path, int *n)
{
	FILE *f = fopen(path, "r");
	char addr[128];
	int port, cap = 1024;
	struct target *t = malloc(cap * sizeof *t);
	if (!f || !t) {
		perror(path);
		exit(2);
	}
	*n = 0;
	while (fscanf(f, "%127s %d", addr, &port) == 2) {
		if (*n == cap)
			t = realloc(t, (cap *= 2) * sizeof *t);
		struct target *x = &t[*n];
		memset(x, 0, sizeof *x);
		struct sockaddr_in *s4 = (struct sockaddr_in *)&x->sa;
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&x->sa;
		if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
			s4->sin_family = x->family = AF_INET;
			s4->sin_port = htons(port);
			x->len = sizeof *s4;
		} else if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
			s6->sin6_family = x->family = AF_INET6;
			s6->sin6_port = htons(port);
			x->len = sizeof *s6;
		} else {
			fprintf(stderr, "bad address %s\n", addr);
			exit(2);
		}
		(*n)++;
	}
	fclose(f);
	return t;
}

/* Per socket: when its connect started (0: not in flight). */
static long long started[MAXFD];
/* Connects in start order, for timeouts: a ring of fds with their start. */
static struct {
	int fd;
	long long at;
} ring[MAXFD];
static int head, tail;
static long ok, err, timeouts;
static int linger0;

static void done(int fd, int soerr)
{
	if (soerr == 0) {
		ok++;
		if (linger0) {
			struct linger l = {1, 0};
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
		}
	} else {
		err++;
	}
	started[fd] = 0;
	close(fd);
}

static void start(int ep, struct target *t, long long now)
{
	int fd = socket(t->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || fd >= MAXFD) {
		if (fd >= 0)
			close(fd);
		err++;
		return;
	}
	if (connect(fd, (struct sockaddr *)&t->sa, t->len) == 0) {
		done(fd, 0);
		return;
	}
	if (errno != EINPROGRESS) {
		err++;
		close(fd);
		return;
	}
	struct epoll_event ev = {.events = EPOLLOUT, .data.fd = fd};
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		err++;
		close(fd);
		return;
	}
	started[fd] = now;
	ring[tail].fd = fd;
	ring[tail].at = now;
	tail = (tail + 1) % MAXFD;
}

/* expire closes the connects started before limit that are still open. */
static void expire(long long limit)
{
	while (head != tail && ring[head].at <= limit) {
		int fd = ring[head].fd;
		if (started[fd] == ring[head].at) {
			timeouts++;
			started[fd] = 0;
			close(fd);
		}
		head = (head + 1) % MAXFD;
	}
}

int main(int argc, char **argv)
{
	if (argc != 7) {
		fprintf(stderr, "usage: %s TARGETS RATE WARMUP_S MEASURE_S TIMEOUT_MS LINGER0\n", argv[0]);
		return 2;
	}
	int n;
	struct target *t = load(argv[1], &n);
	double rate = atof(argv[2]);
	long long warm = atoll(argv[3]) * 1000000000LL, measure = atoll(argv[4]) * 1000000000LL;
	long long timeout = atoll(argv[5]) * 1000000LL;
	linger0 = atoi(argv[6]);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event evs[1024];
	long long t0 = now_ns(), tick = 1000000000LL / TICKS_PER_S, next = t0;
	long long mark = t0 + warm, end = mark + measure, cpu0 = 0;
	long ok0 = 0, err0 = 0, to0 = 0;
	double owed = 0;
	int i = 0, marked = 0;
	for (;;) {
		long long now = now_ns();
		if (!marked && now >= mark) {
			marked = 1;
			cpu0 = cpu_us();
			ok0 = ok, err0 = err, to0 = timeouts;
		}
		if (now >= end)
			break;
		if (now >= next) {
			for (owed += rate / TICKS_PER_S; owed >= 1; owed--) {
				start(ep, &t[i], now);
				i = (i + 1) % n;
			}
			expire(now - timeout);
			next += tick;
			now = now_ns();
		}
		/* Behind schedule, still reap what is ready before the next batch. */
		int ms = now >= next ? 0 : (int)((next - now + 999999) / 1000000);
		int k = epoll_wait(ep, evs, 1024, ms);
		for (int j = 0; j < k; j++) {
			int fd = evs[j].data.fd, soerr = 0;
			socklen_t len = sizeof soerr;
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
			done(fd, soerr);
		}
	}
	long long cpu = cpu_us() - cpu0;
	long c = (ok - ok0) + (err - err0) + (timeouts - to0);
	printf("ok=%ld err=%ld timeout=%ld cpu_us=%lld us_per_connect=%.2f\n", ok - ok0, err - err0,
	       timeouts - to0, cpu, c ? (double)cpu / c : 0.0);
	return 0;
}
