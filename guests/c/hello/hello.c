// A WASI command: prints a greeting, its arguments and one environment
// variable, and exits with the status given as `--exit N`.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  printf("hello from wasm\n");
  for (int i = 1; i < argc; i++) printf("arg %d: %s\n", i, argv[i]);
  const char *who = getenv("GREETING");
  if (who) printf("GREETING=%s\n", who);
  fprintf(stderr, "this goes to stderr\n");
  for (int i = 1; i + 1 < argc; i++)
    if (strcmp(argv[i], "--exit") == 0) return atoi(argv[i + 1]);
  if (argc > 1 && strcmp(argv[1], "--ls") == 0) {
    FILE *f = fopen(argc > 2 ? argv[2] : "/data/input.txt", "r");
    if (!f) { perror("fopen"); return 3; }
    char line[256];
    while (fgets(line, sizeof line, f)) fputs(line, stdout);
    fclose(f);
  }
  return 0;
}
