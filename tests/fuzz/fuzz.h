/*
 * fuzz.h: what every libFuzzer target here shares. CHECK(c) aborts when an invariant of the code
 * under test does not hold, so libFuzzer records the input as a crash (a plain assert would
 * vanish under -DNDEBUG). Regression inputs live in tests/fuzz/regress/<target>/ and are replayed
 * with the seeds by `make fuzz-replay`.
 */
#ifndef NOTIFY_FUZZ_H
#define NOTIFY_FUZZ_H

#include <stdlib.h>

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			abort();                                                                   \
	} while (0)

#endif
