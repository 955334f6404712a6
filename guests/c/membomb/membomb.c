// A memory bomb written the way real code leaks: malloc in a loop, touching
// every page. The sandbox's memory limit must stop it.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static char *volatile last;
static volatile int32_t blocks;

__attribute__((export_name("bomb"))) int32_t bomb(void) {
  for (;;) {
    char *p = malloc(1 << 20);
    if (!p) return blocks; // only reached if growth fails softly
    for (int i = 0; i < (1 << 20); i += 4096) p[i] = (char)i;
    last = p;
    blocks = blocks + 1;
  }
}
