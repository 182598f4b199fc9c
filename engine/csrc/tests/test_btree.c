/* Unit tests of the B+tree and the store (btree.c, store.c) on the real pager
 * over a MemFS. Built and run by tests/engine/test_btree_units.py with gcc
 * and with clang -fsanitize=address,undefined.
 *
 *   test_btree            every test of a normal build
 *   test_btree quick      the same with smaller sizes (for sanitizer builds)
 *   test_btree stress N   random-op tests over N seeds (manual soak)
 *   test_btree planted    (a -DBLAZEDB_PLANT_BUGS build) shows the planted bug
 *
 * Each test compares the store against a reference model kept here: a sorted
 * array of (key, value). Fixed seeds, so a failure reproduces exactly.
 */
#include "btree.h"
#include "store.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

#define CHECK(cond, ...)                                                                     \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "%s:%d: FAILED %s: ", __FILE__, __LINE__, #cond);               \
            fprintf(stderr, __VA_ARGS__);                                                    \
            fprintf(stderr, "\n");                                                           \
            failures++;                                                                      \
            return 1;                                                                        \
        }                                                                                    \
    } while (0)

#define OK(call, e) CHECK((call) == BZ_OK, "%s -> rc %d: %s", #call, (e).rc, (e).msg)

/* ---- deterministic random numbers (xorshift64*) ------------------------------ */
static uint64_t rng_state;
static void rng_seed(uint64_t s) { rng_state = s * 2654435761u + 88172645463325252ull; }
static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}
static uint32_t rnd(uint32_t n) { return (uint32_t)(rng() % n); }

/* ---- the reference model ------------------------------------------------------- */
typedef struct entry {
    uint8_t *key, *val;
    size_t klen, vlen;
} entry;

typedef struct model {
    entry *e;
    size_t n, cap;
} model;

static int kcmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    return c ? c : (alen < blen ? -1 : alen > blen);
}

static size_t model_find(const model *m, const uint8_t *k, size_t klen, int *found)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (kcmp(m->e[mid].key, m->e[mid].klen, k, klen) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < m->n && kcmp(m->e[lo].key, m->e[lo].klen, k, klen) == 0;
    return lo;
}

static uint8_t *dup(const uint8_t *p, size_t n)
{
    uint8_t *d = malloc(n ? n : 1);
    if (n)
        memcpy(d, p, n);
    return d;
}

static int model_put(model *m, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen)
{
    int found;
    size_t i = model_find(m, k, klen, &found);
    if (found) {
        free(m->e[i].val);
        m->e[i].val = dup(v, vlen);
        m->e[i].vlen = vlen;
        return 1;
    }
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 256;
        m->e = realloc(m->e, m->cap * sizeof *m->e);
    }
    memmove(m->e + i + 1, m->e + i, (m->n - i) * sizeof *m->e);
    m->e[i] = (entry){ dup(k, klen), dup(v, vlen), klen, vlen };
    m->n++;
    return 0;
}

static int model_del(model *m, const uint8_t *k, size_t klen)
{
    int found;
    size_t i = model_find(m, k, klen, &found);
    if (!found)
        return 0;
    free(m->e[i].key);
    free(m->e[i].val);
    memmove(m->e + i, m->e + i + 1, (m->n - i - 1) * sizeof *m->e);
    m->n--;
    return 1;
}

static void model_free(model *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->e[i].key);
        free(m->e[i].val);
    }
    free(m->e);
    memset(m, 0, sizeof *m);
}

/* ---- helpers ---------------------------------------------------------------------- */
static bz_pager_opts default_opts(void)
{
    bz_pager_opts o;
    memset(&o, 0, sizeof o);
    o.checkpoint_pages = 1000;
    o.cache_pages = 256;
    return o;
}

static bz_store *open_store(bz_vfs *fs)
{
    bz_pager_opts o = default_opts();
    bz_store *s = NULL;
    bz_err e;
    bz_err_clear(&e);
    if (bz_store_open(fs, "test.db", &o, 1, &s, &e) != BZ_OK) {
        fprintf(stderr, "open failed: %s\n", e.msg);
        exit(2);
    }
    return s;
}

static uint8_t big[BZ_MAX_VALUE + 1];     /* value source: pattern bytes */

static void make_value(uint8_t *out, size_t n, uint64_t tag)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)((tag * 31 + i * 7) ^ (i >> 8));
}

/* Keys from a small alphabet so that inserts, replaces and deletes collide.
 * With key_prefix set, most keys share a long prefix: separators cannot be
 * shortened, so interior nodes hold a few huge keys. */
static size_t key_prefix;

static size_t random_key(uint8_t *k, size_t maxlen)
{
    size_t n = rnd((uint32_t)maxlen + 1), i = 0;
    if (key_prefix && rnd(8) && maxlen >= key_prefix + 4) {
        memset(k, 'p', key_prefix);
        i = key_prefix;
        n = key_prefix + 1 + rnd((uint32_t)(maxlen - key_prefix));
    }
    for (; i < n; i++)
        k[i] = (uint8_t)("abcdefgh\x00\xff"[rnd(10)]);
    return n;
}

static size_t random_vlen(void)
{
    switch (rnd(8)) {
    case 0: return 0;
    case 1: return rnd(16);
    case 2: case 3: return rnd(200);
    case 4: return rnd(1400);           /* around the inline limit */
    case 5: return 1300 + rnd(200);
    case 6: return rnd(9000);           /* overflow chains of 1-3 pages */
    default: return rnd(40);
    }
}

/* Compares the whole tree with the model: count, every get, a forward and a
 * reverse scan. */
static int verify(bz_store *s, const char *tree, const model *m)
{
    bz_err e;
    bz_err_clear(&e);
    uint64_t count;
    OK(bz_store_count(s, tree, strlen(tree), &count, &e), e);
    CHECK(count == m->n, "count %llu, model %zu", (unsigned long long)count, m->n);
    bz_buf val = {0}, key = {0};
    for (size_t i = 0; i < m->n; i++) {
        int found;
        OK(bz_store_get(s, tree, strlen(tree), m->e[i].key, m->e[i].klen, &val, &found, &e), e);
        CHECK(found && val.len == m->e[i].vlen && (val.len == 0 || memcmp(val.data, m->e[i].val, val.len) == 0),
              "get of entry %zu", i);
    }
    for (int reverse = 0; reverse < 2; reverse++) {
        bz_range r;
        memset(&r, 0, sizeof r);
        r.reverse = reverse;
        bz_cursor *c;
        OK(bz_cursor_open(s, tree, strlen(tree), &r, &c, &e), e);
        size_t seen = 0;
        for (;;) {
            int done;
            OK(bz_cursor_next(c, &key, &val, &done, &e), e);
            if (done)
                break;
            size_t i = reverse ? m->n - 1 - seen : seen;
            CHECK(seen < m->n, "scan returns more than %zu entries", m->n);
            CHECK(kcmp(key.data, key.len, m->e[i].key, m->e[i].klen) == 0, "scan key %zu (reverse %d)", seen, reverse);
            CHECK(val.len == m->e[i].vlen && (val.len == 0 || memcmp(val.data, m->e[i].val, val.len) == 0),
                  "scan value %zu", seen);
            seen++;
        }
        CHECK(seen == m->n, "scan saw %zu of %zu", seen, m->n);
        bz_cursor_free(c);
    }
    bz_buf_free(&key);
    bz_buf_free(&val);
    return 0;
}

static int check_ok(bz_store *s, bz_check_report *r)
{
    bz_err e;
    bz_err_clear(&e);
    bz_check_report tmp;
    if (!r)
        r = &tmp;
    int rc = bz_store_check(s, r, &e);
    CHECK(rc == BZ_OK, "check: rc %d page %lld: %s", rc, (long long)e.page, e.msg);
    CHECK(r->underfull_pages == 0, "%u underfull pages", r->underfull_pages);
    if (r == &tmp)
        bz_check_report_free(r);
    return 0;
}

/* ---- tests --------------------------------------------------------------------------- */

/* Random insert / replace / delete against the model, in phases committed
 * one by one, with check() and a full comparison after each phase. */
static int test_random_ops(uint64_t seed, size_t maxkey, int phases, int ops)
{
    bz_vfs *fs = bz_memfs_new();
    bz_store *s = open_store(fs);
    bz_err e;
    bz_err_clear(&e);
    int created;
    OK(bz_store_create_tree(s, "t", 1, &created, &e), e);
    model m = {0};
    rng_seed(seed);
    uint8_t key[BZ_MAX_KEY];
    for (int ph = 0; ph < phases; ph++) {
        OK(bz_store_begin(s, &e), e);
        /* Alternate growing and shrinking phases so merges happen too. */
        int del_pct = ph % 3 == 2 ? 70 : 25;
        for (int i = 0; i < ops; i++) {
            size_t klen = random_key(key, maxkey);
            int flag;
            if ((int)rnd(100) < del_pct) {
                if (m.n && rnd(2)) {          /* delete an existing key */
                    entry *x = &m.e[rnd((uint32_t)m.n)];
                    klen = x->klen;
                    memcpy(key, x->key, klen);
                }
                OK(bz_store_delete(s, "t", 1, key, klen, &flag, &e), e);
                CHECK(flag == model_del(&m, key, klen), "delete existed flag, seed %llu", (unsigned long long)seed);
            } else {
                size_t vlen = random_vlen();
                make_value(big, vlen, rng());
                OK(bz_store_put(s, "t", 1, key, klen, big, vlen, &flag, &e), e);
                CHECK(flag == model_put(&m, key, klen, big, vlen), "put replaced flag");
            }
        }
        OK(bz_store_commit(s, &e), e);
        if (check_ok(s, NULL) || verify(s, "t", &m))
            return 1;
    }
    /* Empty the tree key by key: the root must collapse back to one leaf. */
    OK(bz_store_begin(s, &e), e);
    while (m.n) {
        entry *x = &m.e[rnd((uint32_t)m.n)];
        int existed;
        uint8_t k[BZ_MAX_KEY];
        size_t klen = x->klen;
        memcpy(k, x->key, klen);
        OK(bz_store_delete(s, "t", 1, k, klen, &existed, &e), e);
        CHECK(existed && model_del(&m, k, klen), "delete of a present key");
    }
    OK(bz_store_commit(s, &e), e);
    bz_check_report r;
    if (check_ok(s, &r))
        return 1;
    CHECK(r.ntrees == 1 && r.trees[0].depth == 1 && r.trees[0].leaf_pages == 1 && r.overflow_pages == 0,
          "an emptied tree is one leaf (depth %u, leaves %u)", r.trees[0].depth, r.trees[0].leaf_pages);
    CHECK(r.free_pages + 3 == r.page_count, "every other page is free (%u free of %u)", r.free_pages, r.page_count);
    bz_check_report_free(&r);
    model_free(&m);
    OK(bz_store_close(s, &e), e);
    fs->release(fs);
    return 0;
}

/* Ascending and descending bulk loads with long keys: deep trees of
 * interior nodes holding few large separators. */
static int test_sequential_long_keys(void)
{
    bz_vfs *fs = bz_memfs_new();
    bz_store *s = open_store(fs);
    bz_err e;
    bz_err_clear(&e);
    int created, flag;
    OK(bz_store_create_tree(s, "up", 2, &created, &e), e);
    OK(bz_store_create_tree(s, "down", 4, &created, &e), e);
    model up = {0}, down = {0};
    uint8_t key[BZ_MAX_KEY];
    OK(bz_store_begin(s, &e), e);
    for (int i = 0; i < 3000; i++) {
        size_t klen = i % 7 == 0 ? BZ_MAX_KEY : 8 + (size_t)(i % 300);
        memset(key, 'k', klen);
        snprintf((char *)key, 16, "%08d", i);
        key[8] = 'k';
        OK(bz_store_put(s, "up", 2, key, klen, key, 10, &flag, &e), e);
        model_put(&up, key, klen, key, 10);
        snprintf((char *)key, 16, "%08d", 99999 - i);
        key[8] = 'k';
        OK(bz_store_put(s, "down", 4, key, klen, key, 3, &flag, &e), e);
        model_put(&down, key, klen, key, 3);
    }
    OK(bz_store_commit(s, &e), e);
    bz_check_report r;
    if (check_ok(s, &r) || verify(s, "up", &up) || verify(s, "down", &down))
        return 1;
    CHECK(r.trees[1].depth >= 3, "long keys make a deep tree (depth %u)", r.trees[1].depth);
    bz_check_report_free(&r);
    /* Delete every other key, then the rest, checking in between. */
    OK(bz_store_begin(s, &e), e);
    for (size_t i = 0; i < up.n; i += 2) {
        OK(bz_store_delete(s, "up", 2, up.e[i].key, up.e[i].klen, &flag, &e), e);
        CHECK(flag, "delete of a present key");
    }
    OK(bz_store_commit(s, &e), e);
    model half = {0};
    for (size_t i = 1; i < up.n; i += 2)
        model_put(&half, up.e[i].key, up.e[i].klen, up.e[i].val, up.e[i].vlen);
    if (check_ok(s, NULL) || verify(s, "up", &half))
        return 1;
    model_free(&up);
    model_free(&down);
    model_free(&half);
    OK(bz_store_close(s, &e), e);
    fs->release(fs);
    return 0;
}

/* 100k keys inserted and deleted in random orders, check() in between. */
static void key_of(uint32_t i, uint8_t k[12])
{
    uint64_t h = (uint64_t)i * 0x9E3779B97F4A7C15ull;
    for (int b = 0; b < 8; b++)
        k[b] = (uint8_t)(h >> (56 - 8 * b));
    memcpy(k + 8, &i, 4);
}

static void shuffle(uint32_t *a, uint32_t n)
{
    for (uint32_t i = n - 1; i > 0; i--) {
        uint32_t j = rnd(i + 1), t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

static int verify_100k(bz_store *s, const uint8_t *present, uint32_t n, uint64_t expect)
{
    bz_err e;
    bz_err_clear(&e);
    uint64_t count;
    OK(bz_store_count(s, "h", 1, &count, &e), e);
    CHECK(count == expect, "count %llu, expected %llu", (unsigned long long)count, (unsigned long long)expect);
    bz_buf v = {0}, k = {0}, prev = {0};
    for (uint32_t i = 0; i < n; i += 7) {
        uint8_t key[12];
        int found;
        key_of(i, key);
        OK(bz_store_get(s, "h", 1, key, 12, &v, &found, &e), e);
        CHECK(found == present[i] && (!found || (v.len == 4 && memcmp(v.data, &i, 4) == 0)), "key %u", i);
    }
    bz_range r;
    memset(&r, 0, sizeof r);
    bz_cursor *c;
    OK(bz_cursor_open(s, "h", 1, &r, &c, &e), e);
    uint64_t seen = 0;
    for (;;) {
        int done;
        OK(bz_cursor_next(c, &k, &v, &done, &e), e);
        if (done)
            break;
        CHECK(seen == 0 || kcmp(prev.data, prev.len, k.data, k.len) < 0, "scan order at %llu", (unsigned long long)seen);
        bz_buf_set(&prev, k.data, k.len, &e);
        seen++;
    }
    bz_cursor_free(c);
    CHECK(seen == expect, "scan saw %llu", (unsigned long long)seen);
    bz_buf_free(&v);
    bz_buf_free(&k);
    bz_buf_free(&prev);
    return check_ok(s, NULL);
}

static int test_100k_keys(uint32_t N)
{
    bz_vfs *fs = bz_memfs_new();
    bz_store *s = open_store(fs);
    bz_err e;
    bz_err_clear(&e);
    int created, flag;
    OK(bz_store_create_tree(s, "h", 1, &created, &e), e);
    uint32_t *order = malloc(N * sizeof *order);
    uint8_t *present = calloc(N, 1);
    for (uint32_t i = 0; i < N; i++)
        order[i] = i;
    rng_seed(100000);
    shuffle(order, N);
    OK(bz_store_begin(s, &e), e);
    for (uint32_t i = 0; i < N; i++) {
        uint8_t key[12];
        key_of(order[i], key);
        OK(bz_store_put(s, "h", 1, key, 12, (const uint8_t *)&order[i], 4, &flag, &e), e);
        present[order[i]] = 1;
    }
    OK(bz_store_commit(s, &e), e);
    if (verify_100k(s, present, N, N))
        return 1;
    uint64_t left = N;
    for (int round = 0; round < 2; round++) {
        shuffle(order, N);
        OK(bz_store_begin(s, &e), e);
        for (uint32_t i = 0; i < N / 2; i++) {
            uint8_t key[12];
            key_of(order[i], key);
            OK(bz_store_delete(s, "h", 1, key, 12, &flag, &e), e);
            CHECK(flag == present[order[i]], "delete flag of key %u", order[i]);
            left -= present[order[i]];
            present[order[i]] = 0;
        }
        OK(bz_store_commit(s, &e), e);
        if (verify_100k(s, present, N, left))
            return 1;
    }
    free(order);
    free(present);
    OK(bz_store_close(s, &e), e);
    fs->release(fs);
    return 0;
}

/* Values up to the 16 MiB limit live in overflow chains that are freed (and
 * reused) on replace and delete. */
static int test_overflow_and_limits(void)
{
    bz_vfs *fs = bz_memfs_new();
    bz_store *s = open_store(fs);
    bz_err e;
    bz_err_clear(&e);
    int created, flag, found;
    bz_buf val = {0};
    OK(bz_store_create_tree(s, "big", 3, &created, &e), e);
    make_value(big, BZ_MAX_VALUE, 7);
    OK(bz_store_put(s, "big", 3, (const uint8_t *)"max", 3, big, BZ_MAX_VALUE, &flag, &e), e);
    OK(bz_store_get(s, "big", 3, (const uint8_t *)"max", 3, &val, &found, &e), e);
    CHECK(found && val.len == BZ_MAX_VALUE && memcmp(val.data, big, BZ_MAX_VALUE) == 0, "16 MiB round trip");
    bz_check_report r;
    if (check_ok(s, &r))
        return 1;
    uint32_t chain = r.overflow_pages;
    CHECK(chain >= BZ_MAX_VALUE / BZ_PAGE_SIZE, "a 16 MiB value spans %u overflow pages", chain);
    bz_check_report_free(&r);

    /* Beyond the limits: BZ_TOOBIG, nothing changed. */
    CHECK(bz_store_put(s, "big", 3, (const uint8_t *)"x", 1, big, BZ_MAX_VALUE + 1, &flag, &e) == BZ_TOOBIG,
          "value beyond the limit");
    bz_err_clear(&e);
    uint8_t longkey[BZ_MAX_KEY + 1];
    memset(longkey, 'q', sizeof longkey);
    CHECK(bz_store_put(s, "big", 3, longkey, BZ_MAX_KEY + 1, big, 1, &flag, &e) == BZ_TOOBIG, "key beyond the limit");
    bz_err_clear(&e);
    OK(bz_store_put(s, "big", 3, longkey, BZ_MAX_KEY, big, 5000, &flag, &e), e);
    OK(bz_store_get(s, "big", 3, longkey, BZ_MAX_KEY, &val, &found, &e), e);
    CHECK(found && val.len == 5000 && memcmp(val.data, big, 5000) == 0, "max key with an overflow value");

    /* Replace the big value by a small one: its chain goes to the free list. */
    OK(bz_store_put(s, "big", 3, (const uint8_t *)"max", 3, (const uint8_t *)"tiny", 4, &flag, &e), e);
    CHECK(flag, "replaced");
    if (check_ok(s, &r))
        return 1;
    CHECK(r.free_pages >= chain, "the old chain is free (%u free, chain %u)", r.free_pages, chain);
    uint32_t pages_before = r.page_count;
    bz_check_report_free(&r);
    /* A new large value reuses the freed pages instead of growing the file. */
    OK(bz_store_put(s, "big", 3, (const uint8_t *)"again", 5, big, BZ_MAX_VALUE / 2, &flag, &e), e);
    if (check_ok(s, &r))
        return 1;
    CHECK(r.page_count == pages_before, "freed pages reused (%u -> %u pages)", pages_before, r.page_count);
    bz_check_report_free(&r);
    OK(bz_store_delete(s, "big", 3, (const uint8_t *)"again", 5, &flag, &e), e);
    CHECK(flag, "deleted");
    if (check_ok(s, &r))
        return 1;
    CHECK(r.overflow_pages == 2, "only the 5000-byte value's chain is left (%u)", r.overflow_pages);
    bz_check_report_free(&r);
    bz_buf_free(&val);
    OK(bz_store_close(s, &e), e);
    fs->release(fs);
    return 0;
}

/* drop_tree and clear free every page; the catalog forgets the tree. */
static int test_drop_and_clear(void)
{
    bz_vfs *fs = bz_memfs_new();
    bz_store *s = open_store(fs);
    bz_err e;
    bz_err_clear(&e);
    int created, flag;
    OK(bz_store_create_tree(s, "a", 1, &created, &e), e);
    CHECK(created, "created");
    OK(bz_store_create_tree(s, "a", 1, &created, &e), e);
    CHECK(!created, "a second create says it existed");
    OK(bz_store_create_tree(s, "b", 1, &created, &e), e);
    OK(bz_store_begin(s, &e), e);
    for (int i = 0; i < 5000; i++) {
        char k[32];
        int n = snprintf(k, sizeof k, "key-%d", i * 7919 % 5000);
        make_value(big, (size_t)(i % 5 == 0 ? 6000 : 50), (uint64_t)i);
        OK(bz_store_put(s, "a", 1, (const uint8_t *)k, (size_t)n, big, i % 5 == 0 ? 6000 : 50, &flag, &e), e);
        OK(bz_store_put(s, "b", 1, (const uint8_t *)k, (size_t)n, big, 20, &flag, &e), e);
    }
    OK(bz_store_commit(s, &e), e);
    bz_check_report r;
    if (check_ok(s, &r))
        return 1;
    uint32_t a_pages = r.trees[0].leaf_pages + r.trees[0].interior_pages + r.trees[0].overflow_pages;
    uint32_t free_before = r.free_pages;
    bz_check_report_free(&r);
    int dropped;
    OK(bz_store_drop_tree(s, "a", 1, &dropped, &e), e);
    CHECK(dropped, "dropped");
    OK(bz_store_drop_tree(s, "a", 1, &dropped, &e), e);
    CHECK(!dropped, "a second drop says it was absent");
    if (check_ok(s, &r))
        return 1;
    CHECK(r.ntrees == 1 && r.free_pages == free_before + a_pages, "all %u pages of the tree are free (%u -> %u)",
          a_pages, free_before, r.free_pages);
    bz_check_report_free(&r);
    uint64_t n;
    CHECK(bz_store_count(s, "a", 1, &n, &e) == BZ_NOTFOUND, "a dropped tree is unknown");
    bz_err_clear(&e);
    uint64_t removed;
    OK(bz_store_clear(s, "b", 1, &removed, &e), e);
    CHECK(removed == 5000, "clear removed %llu", (unsigned long long)removed);
    if (check_ok(s, &r))
        return 1;
    CHECK(r.trees[0].entries == 0 && r.trees[0].leaf_pages == 1 && r.catalog_pages + 2 + r.free_pages == r.page_count,
          "a cleared tree keeps only its root");
    bz_check_report_free(&r);
    OK(bz_store_count(s, "b", 1, &n, &e), e);
    CHECK(n == 0, "count after clear");
    OK(bz_store_close(s, &e), e);
    fs->release(fs);
    return 0;
}

/* Rollback restores every tree, the catalog and the counts; a reopen sees
 * exactly the committed state. */
static int test_rollback_and_reopen(void)
{
    bz_vfs *fs = bz_memfs_new();
    bz_store *s = open_store(fs);
    bz_err e;
    bz_err_clear(&e);
    int created, flag;
    OK(bz_store_create_tree(s, "t", 1, &created, &e), e);
    model m = {0};
    rng_seed(42);
    uint8_t key[64];
    OK(bz_store_begin(s, &e), e);
    for (int i = 0; i < 3000; i++) {
        size_t klen = random_key(key, 12), vlen = random_vlen();
        make_value(big, vlen, (uint64_t)i);
        OK(bz_store_put(s, "t", 1, key, klen, big, vlen, &flag, &e), e);
        model_put(&m, key, klen, big, vlen);
    }
    OK(bz_store_commit(s, &e), e);
    bz_check_report before;
    if (check_ok(s, &before))
        return 1;
    OK(bz_store_begin(s, &e), e);
    CHECK(bz_store_in_txn(s), "in a transaction");
    for (int i = 0; i < 3000; i++) {
        size_t klen = random_key(key, 12), vlen = random_vlen();
        make_value(big, vlen, (uint64_t)i + 99);
        if (i % 2)
            OK(bz_store_delete(s, "t", 1, key, klen, &flag, &e), e);
        else
            OK(bz_store_put(s, "t", 1, key, klen, big, vlen, &flag, &e), e);
    }
    OK(bz_store_create_tree(s, "gone", 4, &created, &e), e);
    OK(bz_store_put(s, "gone", 4, key, 3, big, 9000, &flag, &e), e);
    OK(bz_store_rollback(s, &e), e);
    CHECK(!bz_store_in_txn(s), "rollback ends the transaction");
    bz_check_report after;
    if (check_ok(s, &after) || verify(s, "t", &m))
        return 1;
    CHECK(after.ntrees == 1 && after.page_count == before.page_count && after.free_pages == before.free_pages,
          "rollback restores the page accounting");
    bz_check_report_free(&before);
    bz_check_report_free(&after);
    /* Misuse is reported, not fatal. */
    CHECK(bz_store_commit(s, &e) == BZ_MISUSE, "commit without begin");
    bz_err_clear(&e);
    CHECK(bz_store_rollback(s, &e) == BZ_MISUSE, "rollback without begin");
    bz_err_clear(&e);
    OK(bz_store_begin(s, &e), e);
    CHECK(bz_store_begin(s, &e) == BZ_MISUSE, "nested begin");
    bz_err_clear(&e);
    OK(bz_store_rollback(s, &e), e);
    /* Autocommit writes survive a reopen. */
    OK(bz_store_put(s, "t", 1, (const uint8_t *)"auto", 4, (const uint8_t *)"commit", 6, &flag, &e), e);
    model_put(&m, (const uint8_t *)"auto", 4, (const uint8_t *)"commit", 6);
    OK(bz_store_close(s, &e), e);
    s = open_store(fs);
    if (check_ok(s, NULL) || verify(s, "t", &m))
        return 1;
    model_free(&m);
    OK(bz_store_close(s, &e), e);
    fs->release(fs);
    return 0;
}

/* Bounded scans in both directions, and a scan that keeps going while the
 * tree changes under it. */
static int test_cursor_bounds_and_changes(void)
{
    bz_vfs *fs = bz_memfs_new();
    bz_store *s = open_store(fs);
    bz_err e;
    bz_err_clear(&e);
    int created, flag, done;
    OK(bz_store_create_tree(s, "c", 1, &created, &e), e);
    OK(bz_store_begin(s, &e), e);
    for (int i = 0; i < 1000; i += 2) {          /* even numbers 0..998 */
        char k[16];
        snprintf(k, sizeof k, "%04d", i);
        OK(bz_store_put(s, "c", 1, (const uint8_t *)k, 4, (const uint8_t *)k, 4, &flag, &e), e);
    }
    OK(bz_store_commit(s, &e), e);
    bz_buf key = {0}, val = {0};
    for (int trial = 0; trial < 64; trial++) {
        int lo = (int)rnd(1000), hi = (int)rnd(1000);
        bz_range r;
        memset(&r, 0, sizeof r);
        char a[16], b[16];
        snprintf(a, sizeof a, "%04d", lo);
        snprintf(b, sizeof b, "%04d", hi);
        r.has_start = trial % 4 != 0;
        r.has_stop = trial % 5 != 0;
        r.start = (const uint8_t *)a; r.start_len = 4; r.include_start = trial % 2;
        r.stop = (const uint8_t *)b;  r.stop_len = 4;  r.include_stop = trial % 3 == 0;
        r.reverse = trial % 7 < 3;
        int expect[1000], ne = 0;
        for (int i = 0; i < 1000; i += 2) {
            if (r.has_start && (i < lo || (i == lo && !r.include_start)))
                continue;
            if (r.has_stop && (i > hi || (i == hi && !r.include_stop)))
                continue;
            expect[ne++] = i;
        }
        bz_cursor *c;
        OK(bz_cursor_open(s, "c", 1, &r, &c, &e), e);
        for (int k = 0;; k++) {
            OK(bz_cursor_next(c, &key, &val, &done, &e), e);
            if (done) {
                CHECK(k == ne, "range [%d,%d] flags %d%d rev %d: %d of %d", lo, hi, r.include_start, r.include_stop,
                      r.reverse, k, ne);
                break;
            }
            CHECK(k < ne, "too many entries");
            int want = expect[r.reverse ? ne - 1 - k : k];
            char w[16];
            snprintf(w, sizeof w, "%04d", want);
            CHECK(key.len == 4 && memcmp(key.data, w, 4) == 0, "entry %d is %s", k, w);
        }
        bz_cursor_free(c);
    }
    /* Modify during a forward scan: insert odd keys ahead of the cursor and
     * delete even keys behind and ahead; the scan sees every key that exists
     * when it gets there, in order, each once. */
    bz_range all;
    memset(&all, 0, sizeof all);
    bz_cursor *c;
    OK(bz_cursor_open(s, "c", 1, &all, &c, &e), e);
    int last = -1;
    for (;;) {
        OK(bz_cursor_next(c, &key, &val, &done, &e), e);
        if (done)
            break;
        int k = atoi((const char *)memcpy(memset(big, 0, 8), key.data, 4));
        CHECK(k > last, "scan order after changes: %d after %d", k, last);
        last = k;

        char t[16];
        if (k % 2 == 0 && k + 1 < 1000) {
            snprintf(t, sizeof t, "%04d", k + 1);   /* the next key: must be seen next */
            OK(bz_store_put(s, "c", 1, (const uint8_t *)t, 4, (const uint8_t *)t, 4, &flag, &e), e);
            snprintf(t, sizeof t, "%04d", k + 4);   /* two evens ahead: must be skipped */
            OK(bz_store_delete(s, "c", 1, (const uint8_t *)t, 4, &flag, &e), e);
        }
    }
    CHECK(last == 995, "scan reached the end (%d)", last);   /* 996 and 998 were deleted ahead */
    bz_cursor_free(c);
    if (check_ok(s, NULL))
        return 1;
    /* Dropping the tree ends a scan; closing the store detaches a cursor. */
    OK(bz_cursor_open(s, "c", 1, &all, &c, &e), e);
    OK(bz_cursor_next(c, &key, &val, &done, &e), e);
    int dropped;
    OK(bz_store_drop_tree(s, "c", 1, &dropped, &e), e);
    OK(bz_cursor_next(c, &key, &val, &done, &e), e);
    CHECK(done, "a scan of a dropped tree ends");
    OK(bz_store_create_tree(s, "c", 1, &created, &e), e);
    bz_cursor *c2;
    OK(bz_cursor_open(s, "c", 1, &all, &c2, &e), e);
    OK(bz_store_close(s, &e), e);
    CHECK(bz_cursor_next(c2, &key, &val, &done, &e) == BZ_MISUSE, "cursor of a closed store");
    bz_cursor_free(c2);
    bz_cursor_free(c);
    bz_buf_free(&key);
    bz_buf_free(&val);
    fs->release(fs);
    return 0;
}

static int visit_once(void *ctx, bz_pgno pg, bz_err *err)
{
    uint8_t *seen = ctx;
    if (pg / 8 >= 2048 || (seen[pg / 8] & (1u << (pg % 8)))) {
        bz_err_set(err, BZ_CORRUPT, "page %u twice", (unsigned)pg);
        err->page = pg;
        return BZ_CORRUPT;
    }
    seen[pg / 8] |= (uint8_t)(1u << (pg % 8));
    return BZ_OK;
}

/* Damaged pages (with valid checksums: scribbled through the pager) give
 * BZ_CORRUPT naming a page, from check() and from every operation, never a
 * crash or an out-of-bounds read (the sanitizer build proves the latter). */
static int test_corrupt_pages(void)
{
    int corrupt_found = 0;
    for (int trial = 0; trial < 300; trial++) {
        bz_vfs *fs = bz_memfs_new();
        bz_pager *p;
        bz_err e;
        bz_err_clear(&e);
        bz_pager_opts o = default_opts();
        OK(pager_open(fs, "c.db", &o, &p, &e), e);
        bz_pgno root;
        int flag;
        rng_seed(1000 + (uint64_t)trial);
        OK(pager_begin(p, &e), e);
        OK(bt_create(p, &root, &e), e);
        uint8_t key[64];
        for (int i = 0; i < 600; i++) {
            size_t klen = random_key(key, 20), vlen = random_vlen() % 3000;
            make_value(big, vlen, (uint64_t)i);
            OK(bt_put(p, root, key, klen, big, vlen, &flag, &e), e);
        }
        OK(pager_commit(p, &e), e);
        /* Scribble: a few random bytes of one random tree page. */
        OK(pager_begin(p, &e), e);
        bz_page *pg;
        bz_pgno victim = 1 + rnd(pager_page_count(p) - 1);
        OK(pager_get(p, victim, &pg, &e), e);
        OK(pager_write(p, pg, &e), e);
        int nbytes = 1 + (int)rnd(4);
        for (int i = 0; i < nbytes; i++) {
            uint32_t at = trial % 2 ? rnd(16) : rnd(BZ_PAGE_USABLE);   /* headers are the juicy part */
            pg->data[at] = rnd(3) ? (uint8_t)rng() : (uint8_t)(pg->data[at] ^ 0x80);
        }
        pager_unref(p, pg);
        /* Every operation either works or reports an error; none crashes. */
        uint8_t seen[2048];
        memset(seen, 0, sizeof seen);
        bt_check_stats st;
        bz_err ce;
        bz_err_clear(&ce);
        if (pager_page_count(p) < 8 * sizeof seen) {
            int crc = bt_check(p, root, visit_once, seen, &st, &ce);
            CHECK(crc == BZ_OK || crc == BZ_CORRUPT, "check rc %d: %s", crc, ce.msg);
            CHECK(crc == BZ_OK || ce.page >= 0, "BZ_CORRUPT names a page: %s", ce.msg);
        }
        bz_buf v = {0};
        for (int i = 0; i < 200; i++) {
            size_t klen = random_key(key, 20);
            bz_err oe;
            bz_err_clear(&oe);
            int rc;
            switch (i % 4) {
            case 0: rc = bt_get(p, root, key, klen, &v, &flag, &oe); break;
            case 1: make_value(big, 2000, 1); rc = bt_put(p, root, key, klen, big, i % 8 == 1 ? 5000 : 30, &flag, &oe); break;
            case 2: rc = bt_delete(p, root, key, klen, &flag, &oe); break;
            default: {
                bt_cursor c;
                bt_cursor_init(&c, p, root);
                rc = bt_seek(&c, i % 8 == 3 ? BT_FIRST : BT_LAST, NULL, 0, &oe);
                for (int k = 0; rc == BZ_OK && c.valid && k < 3000; k++) {
                    rc = bt_read(&c, &v, &v, &oe);
                    if (rc == BZ_OK)
                        rc = i % 8 == 3 ? bt_next(&c, &oe) : bt_prev(&c, &oe);
                }
            }
            }
            if (rc == BZ_CORRUPT) {
                CHECK(oe.page >= 0, "BZ_CORRUPT names a page: %s", oe.msg);
                corrupt_found++;
                break;
            }
            CHECK(rc == BZ_OK, "unexpected rc %d: %s", rc, oe.msg);
        }
        bz_buf_free(&v);
        pager_rollback(p, &e);
        bz_err_clear(&e);
        pager_close(p, &e);
        fs->release(fs);
    }
    CHECK(corrupt_found > 30, "damage is noticed (%d of 300 trials)", corrupt_found);
    return 0;
}

/* check() on a store with a leaked page names that page. */
static int test_check_detects(void)
{
    bz_vfs *fs = bz_memfs_new();
    bz_store *s = open_store(fs);
    bz_err e;
    bz_err_clear(&e);
    int created, flag;
    OK(bz_store_create_tree(s, "t", 1, &created, &e), e);
    OK(bz_store_begin(s, &e), e);
    for (int i = 0; i < 2000; i++) {
        char k[16];
        int n = snprintf(k, sizeof k, "%06d", i);
        OK(bz_store_put(s, "t", 1, (const uint8_t *)k, (size_t)n, big, 100, &flag, &e), e);
    }
    OK(bz_store_commit(s, &e), e);
    if (check_ok(s, NULL))
        return 1;
    OK(bz_store_close(s, &e), e);
    /* Leak a page: allocate it through the pager and drop it. */
    bz_pager *p;
    bz_pager_opts o = default_opts();
    OK(pager_open(fs, "test.db", &o, &p, &e), e);
    OK(pager_begin(p, &e), e);
    bz_page *pg;
    OK(pager_alloc(p, &pg, &e), e);
    bz_pgno leaked = pg->pgno;
    pager_unref(p, pg);
    OK(pager_commit(p, &e), e);
    OK(pager_close(p, &e), e);
    s = open_store(fs);
    bz_check_report r;
    CHECK(bz_store_check(s, &r, &e) == BZ_CORRUPT && e.page == leaked, "leaked page %u found (page %lld: %s)",
          leaked, (long long)e.page, e.msg);
    bz_err_clear(&e);
    OK(bz_store_close(s, &e), e);
    fs->release(fs);
    return 0;
}

#ifdef BLAZEDB_PLANT_BUGS
static int test_planted(void)
{
    bz_vfs *fs = bz_memfs_new();
    bz_store *s = open_store(fs);
    bz_err e;
    bz_err_clear(&e);
    int created, existed, found;
    bz_buf v = {0};
    OK(bz_store_create_tree(s, "t", 1, &created, &e), e);
    OK(bz_store_put(s, "t", 1, (const uint8_t *)"a*", 2, (const uint8_t *)"v", 1, &existed, &e), e);
    OK(bz_store_delete(s, "t", 1, (const uint8_t *)"a*", 2, &existed, &e), e);
    OK(bz_store_get(s, "t", 1, (const uint8_t *)"a*", 2, &v, &found, &e), e);
    CHECK(existed && found, "the planted bug: delete says it removed the key, the key is still there");
    bz_buf_free(&v);
    OK(bz_store_close(s, &e), e);
    fs->release(fs);
    return 0;
}
#endif

int main(int argc, char **argv)
{
#ifdef BLAZEDB_PLANT_BUGS
    if (argc > 1 && strcmp(argv[1], "planted") == 0) {
        test_planted();
        printf(failures ? "FAILED\n" : "ok planted\n");
        return failures != 0;
    }
#endif
    if (argc > 2 && strcmp(argv[1], "stress") == 0) {      /* manual: test_btree stress SEEDS */
        for (int seed = 0; seed < atoi(argv[2]) && !failures; seed++) {
            key_prefix = seed % 3 == 0 ? 1000 : 0;
            test_random_ops(10000 + (uint64_t)seed, (size_t[]){ 4, 12, 64, 300, 1024 }[seed % 5], 4, 2000);
        }
        printf(failures ? "FAILED\n" : "ok\n");
        return failures != 0;
    }
    /* "quick": smaller sizes for the (slow) sanitizer build; same code paths. */
    int quick = argc > 1 && strcmp(argv[1], "quick") == 0, q = quick ? 3 : 1;
    test_random_ops(1, 6, 6, 3000 / q);
    test_random_ops(2, 40, 4, 4000 / q);
    test_random_ops(3, 300, 4, 1500 / q);      /* long keys */
    key_prefix = 1000;
    test_random_ops(4, BZ_MAX_KEY, 4, 1500 / q);   /* huge separators: few keys per interior node */
    key_prefix = 0;
    test_sequential_long_keys();
    test_100k_keys(quick ? 20000 : 100000);
    test_overflow_and_limits();
    test_drop_and_clear();
    test_rollback_and_reopen();
    test_cursor_bounds_and_changes();
    test_corrupt_pages();
    test_check_detects();
    if (failures) {
        printf("FAILED: %d\n", failures);
        return 1;
    }
    printf("ok\n");
    return 0;
}
