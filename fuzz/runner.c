/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * runner.c - a fuzz target without libFuzzer: feed it every file of the
 * directories named on the command line, once each, as libFuzzer would.
 *
 *   fuzz-TARGET-regress CORPUS_DIR [CRASHERS_DIR...]
 *
 * This is how `meson test --suite fuzz` re-checks the committed corpus and
 * every input that once crashed a target, in any build (CI's ASan+UBSan
 * build included), with no clang needed.  CORPUS_DIR must hold at least one
 * input (an empty corpus would pass vacuously); the other directories may
 * be empty or missing, as git keeps no empty directory.  Names starting
 * with '.' are skipped (.gitkeep, editor files).
 *
 * Files run in name order, so a failure is reproducible by name; a broken
 * property aborts and the test fails, printing which file was running.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* Targets that need no set-up do not define it. */
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long len;

	if (!f) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fseek(f, 0, SEEK_END) || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
		fprintf(stderr, "%s: cannot size it\n", path);
		fclose(f);
		return -1;
	}
	/* exactly len bytes, as libFuzzer passes them: an overread of the input faults */
	buf = malloc(len ? (size_t)len : 1);
	if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len) {
		fprintf(stderr, "%s: cannot read it\n", path);
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	/* named first: if the target aborts, the log says on what */
	fprintf(stderr, "running %s (%ld bytes)\n", path, len);
	LLVMFuzzerTestOneInput(buf, (size_t)len);
	free(buf);
	return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int not_hidden(const struct dirent *e)
{
	return e->d_name[0] != '.';
}

/* @return the number of inputs run, or -1 on an error. */
static int run_dir(const char *dir)
{
	struct dirent **names;
	int n = scandir(dir, &names, not_hidden, by_name), ran = 0;

	if (n < 0)
		return errno == ENOENT ? 0 : -1;
	for (int i = 0; i < n; i++) {
		char path[4096];
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			if (run_file(path))
				ran = -1;
			else if (ran >= 0)
				ran++;
		}
		free(names[i]);
	}
	free(names);
	return ran;
}

int main(int argc, char **argv)
{
	int total = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR [CRASHERS_DIR...]\n", argv[0]);
		return 2;
	}
	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++) {
		int n = run_dir(argv[i]);

		if (n < 0) {
			fprintf(stderr, "%s: unreadable\n", argv[i]);
			return 1;
		}
		if (i == 1 && n == 0) {
			fprintf(stderr, "%s: no inputs: the corpus is missing\n", argv[i]);
			return 1;
		}
		printf("%s: %d inputs\n", argv[i], n);
		total += n;
	}
	printf("%d inputs, no property broken\n", total);
	return 0;
}
