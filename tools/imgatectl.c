/*
 * tools/imgatectl.c - imgate admin and debug tool (entry point)
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 */
#include <stdio.h>
#include <string.h>

int
main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0) {
		printf("usage: imgatectl COMMAND ...\n"
		    "(commands arrive with issue 2's tool work)\n");
		return argc < 2 ? 2 : 0;
	}
	fprintf(stderr, "imgatectl: unknown command '%s'; try --help\n",
	    argv[1]);
	return 2;
}
