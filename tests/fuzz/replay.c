/*
 * tests/fuzz/replay.c - run a fuzz target over files, without libFuzzer (TAP)
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * Linked with one fuzz target (fuzz_msg.c, fuzz_ticket.c) into
 * tests/fuzz/<target>_replay, built with the project's compiler and
 * sanitizers and run by `make check`, in the way sqlite's test/fuzzcheck.c
 * replays its corpora: every seed and every past crasher goes through
 * LLVMFuzzerTestOneInput() on each check run.
 *
 *	tests/fuzz/fuzz_msg_replay [-v] [PATH ...]
 *
 * Each PATH is a file or a directory (its files, sorted by name; names
 * starting with "." or "README" are skipped).  Without PATH it replays
 * $top_srcdir/tests/fuzz/corpus/NAME, which must hold inputs, and
 * $top_srcdir/tests/fuzz/crashers/NAME, which may be empty or absent
 * (NAME is compiled in: msg, ticket).  Output is TAP: one "ok" line per
 * PATH with the number of inputs run, so a run that executed nothing
 * shows; a PATH given on the command line that holds no input is "not
 * ok".  If the target defines fuzz_summary(), its counters are printed
 * after each PATH, and for the default corpus one more test requires
 * that some seed got past the MAC checks (the corpus still reaches the
 * deep code: e.g. its sealed tickets open with the target's TPK).
 *
 * An input that crashes the target kills the process: a "Bail out!" line
 * names it first (from a SIGABRT handler for the targets' oracles, from
 * the sanitizer's death callback or a signal handler otherwise).
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef FUZZ_NAME
#error "compile with -DFUZZ_NAME=\"msg\" (the corpus subdirectory)"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);
/* optional in the target: counters since the last call; returns how many
 * inputs reached the code behind the MACs */
extern size_t fuzz_summary(char *buf, size_t len) __attribute__((weak));
/* present when linked with a sanitizer runtime */
extern void __sanitizer_set_death_callback(void (*cb)(void))
    __attribute__((weak));

#define REPLAY_MAX	(1u << 20)	/* larger files are not MIKEY inputs */

static int ntests, nfailed, verbose;
static char current[4096];		/* the input being run, for crashes */

/* say_crash - async-signal-safe "Bail out!" naming the current input */
static void
say_crash(void)
{
	static const char a[] = "Bail out! crashed on input ";
	size_t n = strlen(current);

	if (n == 0)
		return;
	(void)!write(STDOUT_FILENO, a, sizeof(a) - 1);
	(void)!write(STDOUT_FILENO, current, n);
	(void)!write(STDOUT_FILENO, "\n", 1);
}

static void
on_signal(int sig)
{
	say_crash();
	/* SA_RESETHAND restored the default action: die of the signal */
	raise(sig);
}

static void
catch_crashes(void)
{
	static const int sanitizer_sigs[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL };
	struct sigaction sa;
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	/* abort() is the targets' oracle; sanitizers leave SIGABRT alone */
	sigaction(SIGABRT, &sa, NULL);
	if (__sanitizer_set_death_callback != NULL) {
		/* ASan/UBSan report first, then call this */
		__sanitizer_set_death_callback(say_crash);
		return;
	}
	for (i = 0; i < sizeof(sanitizer_sigs) / sizeof(sanitizer_sigs[0]); i++)
		sigaction(sanitizer_sigs[i], &sa, NULL);
}

static void
tap(int good, const char *what)
{
	ntests++;
	if (!good)
		nfailed++;
	printf("%sok %d - %s\n", good ? "" : "not ", ntests, what);
}

/* run_file - one input through the target; -1 if unreadable */
static int
run_file(const char *path)
{
	FILE *f;
	uint8_t *buf, *exact;
	size_t n;

	if ((f = fopen(path, "rb")) == NULL)
		return -1;
	if ((buf = malloc(REPLAY_MAX + 1)) == NULL) {
		fclose(f);
		return -1;
	}
	n = fread(buf, 1, REPLAY_MAX + 1, f);
	fclose(f);
	if (n > REPLAY_MAX) {
		free(buf);
		return -1;
	}
	/* an exact-size copy, as libFuzzer passes it: ASan sees over-reads */
	exact = malloc(n ? n : 1);
	if (exact == NULL) {
		free(buf);
		return -1;
	}
	memcpy(exact, buf, n);
	free(buf);
	snprintf(current, sizeof(current), "%s", path);
	if (verbose)
		printf("# %s (%zu bytes)\n", path, n);
	(void)LLVMFuzzerTestOneInput(exact, n);
	current[0] = '\0';
	free(exact);
	return 0;
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * run_path - replay a file or every file of a directory; the number of
 *	inputs run, -1 if path is missing or a file could not be read.
 */
static long
run_path(const char *path)
{
	struct stat sb;
	struct dirent *de;
	DIR *dir;
	char **names = NULL, full[4096];
	size_t n = 0, cap = 0, i;
	long ran = 0;

	if (stat(path, &sb) != 0)
		return -1;
	if (!S_ISDIR(sb.st_mode))
		return run_file(path) == 0 ? 1 : -1;
	if ((dir = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.' ||
		    strncmp(de->d_name, "README", 6) == 0)
			continue;
		if (n == cap) {
			char **nn = realloc(names, (cap = cap ? 2 * cap : 64) *
			    sizeof(*names));

			if (nn == NULL)
				break;
			names = nn;
		}
		if ((names[n] = strdup(de->d_name)) != NULL)
			n++;
	}
	closedir(dir);
	if (n > 0)
		qsort(names, n, sizeof(*names), by_name);
	for (i = 0; i < n; i++) {
		snprintf(full, sizeof(full), "%s/%s", path, names[i]);
		if (stat(full, &sb) == 0 && S_ISREG(sb.st_mode)) {
			if (run_file(full) != 0) {
				printf("# cannot read %s: %s\n", full,
				    strerror(errno));
				ran = -1;
			} else if (ran >= 0)
				ran++;
		}
		free(names[i]);
	}
	free(names);
	return ran;
}

/* summary - the target's counters as a TAP comment; its deep count */
static size_t
summary(long ran)
{
	char buf[512];
	size_t deep;

	if (fuzz_summary == NULL)
		return 0;
	deep = fuzz_summary(buf, sizeof(buf));	/* and reset the counters */
	if (ran > 0)
		printf("#   %s\n", buf);
	return deep;
}

/* replay - one PATH: TAP line; may_be_empty for the default crashers */
static void
replay(const char *path, int may_be_empty, int need_deep)
{
	char what[4200];
	long ran = run_path(path);
	size_t deep = summary(ran);

	if (ran > 0) {
		snprintf(what, sizeof(what), "%s: %ld input%s", path, ran,
		    ran == 1 ? "" : "s");
		tap(1, what);
	} else if (ran == 0 || (may_be_empty && access(path, F_OK) != 0)) {
		snprintf(what, sizeof(what), "%s: 0 inputs%s", path,
		    may_be_empty ? " # SKIP nothing to replay" : "");
		tap(may_be_empty, what);
	} else {
		snprintf(what, sizeof(what), "%s: missing or unreadable",
		    path);
		tap(0, what);
	}
	if (need_deep && fuzz_summary != NULL) {
		snprintf(what, sizeof(what), "%s: %zu inputs got past a MAC "
		    "check", path, deep);
		tap(deep > 0, what);
	}
}

int
main(int argc, char **argv)
{
	const char *top = getenv("top_srcdir");
	char path[4096];
	int i = 1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	catch_crashes();
	if (i < argc && strcmp(argv[i], "-v") == 0) {
		verbose = 1;
		i++;
	}
	if (i < argc && argv[i][0] == '-') {
		fprintf(stderr, "usage: %s [-v] [FILE|DIR ...]\n", argv[0]);
		return 2;
	}
	if (i == argc) {
		if (top == NULL || *top == '\0')
			top = ".";
		snprintf(path, sizeof(path), "%s/tests/fuzz/corpus/%s", top,
		    FUZZ_NAME);
		replay(path, 0, 1);
		snprintf(path, sizeof(path), "%s/tests/fuzz/crashers/%s", top,
		    FUZZ_NAME);
		replay(path, 1, 0);
	}
	for (; i < argc; i++)
		replay(argv[i], 0, 0);
	printf("1..%d\n", ntests);
	if (nfailed)
		printf("# %d of %d failed\n", nfailed, ntests);
	return nfailed ? 1 : 0;
}
