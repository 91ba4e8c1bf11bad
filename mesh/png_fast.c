/*
 * png_fast.c — png_fast_zlib: a rendered frame's PNG image data (filtered rows in a zlib stream),
 * written by a deflate coder made for our frames. png_write.c calls it for
 * img_encode_png_frame at level 1; any thread, nothing shared, scratch allocated per call.
 *
 * Why our own: PNG encoding is the hot path of a GPU node (41 frames a job, thousands of jobs),
 * and a general LZ77 compressor (zlib, libdeflate) spends most of its time hashing and searching
 * for matches that rendered frames hardly have. What frames have is runs: the background, and
 * rows that repeat the row above. So, after fpnge (Luca Versari's fast PNG encoder), this coder
 *   - filters every row with Paeth (11% smaller than Up on our frames, 57.8 vs 65.0 KB with
 *     4-byte matches; built to vectorise, see filter_paeth);
 *   - looks for matches at two fixed distances only: bpp (the pixel to the left: a flat
 *     background is a run of zeros after the filter) and row (the same byte of the filtered
 *     row above, filter byte included: a row that repeats the one above), at least
 *     PNG_FAST_MIN_MATCH bytes, scanning four positions per step with a zero-byte test;
 *   - codes everything else as literals, with one dynamic Huffman block (code lengths limited to
 *     deflate's 15 bits) per chunk of about PNG_FAST_CHUNK bytes of rows. A chunk whose block
 *     would be larger than its bytes is stored instead, so the output never exceeds
 *     png_fast_zlib_bound.
 * Each chunk is filtered into a buffer that also holds the row above it (the only bytes matches
 * reach back to), scanned once for matches and counts, and then written from the buffer by a
 * 64-bit bit writer. The stream is an ordinary zlib stream (RFC 1950/1951) any inflater reads;
 * adler32 is libdeflate's. The output is a function of the pixels alone.
 *
 * What it does not have: matches at other distances. Textures and four of the five heatmap
 * figures come out 5-35% larger than with libdeflate's LZ77 (the skin's pore noise, shared by
 * R, G and B, probably makes whole pixels of residuals recur), so those stay there
 * (img_encode_png; bench/RESULTS.md).
 */
#include "mesh/png_fast.h"

#include <libdeflate.h>
#include <stdatomic.h>
#include <string.h>

#include "base/md.h"

/* Bytes of filtered rows per Huffman block (whole rows; at least one row). On the default job's
 * frames (512² RGB, 41 frames; bench/RESULTS.md) 128 KiB gave 56,407 B a frame at 0.88 ms,
 * 256 KiB 56,864 B at 0.71 ms, 512 KiB 57,482 B at 0.68 ms: 256 KiB, fast, and its files well
 * below libdeflate's level 1 (60,246 B). */
#define PNG_FAST_CHUNK (256 * 1024)
/* Matches shorter than this are coded as literals. Deflate allows 3, but on the default job's
 * frames 4 gave 58,306 B a frame at 0.74 ms, 5 56,864 B at 0.71 ms, 6 56,223 B at 1.19 ms: a
 * short run of a residual inside the face costs less as literals than as a length and a
 * distance. find_matches' zero-byte test (zero_runs5) looks for exactly this many. */
#define PNG_FAST_MIN_MATCH 5
#define DEFLATE_MAX_MATCH 258
#define DEFLATE_WINDOW 32768
#define LITLEN_SYMS 288 /* 286 used; 286 and 287 never appear */
#define DIST_SYMS 30
#define CODELEN_SYMS 19
#define MAX_BITS 15
#define CODELEN_MAX_BITS 7
#define SYM_EOB 256

#define PNG_FILTER_PAETH 4

/* ---- Deflate's tables (RFC 1951 3.2.5) ---- */

static const uint16_t length_base[29] = {3,  4,  5,  6,   7,   8,   9,   10,  11, 13,
                                         15, 17, 19, 23,  27,  31,  35,  43,  51, 59,
                                         67, 83, 99, 115, 131, 163, 195, 227, 258};
static const uint8_t length_extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                         2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static const uint16_t dist_base[30] = {
    1,   2,   3,   4,   5,   7,    9,    13,   17,   25,   33,   49,   65,    97,    129,
    193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
static const uint8_t dist_extra[30] = {0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,
                                       6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
static const uint8_t codelen_order[CODELEN_SYMS] = {16, 17, 18, 0, 8,  7, 9,  6, 10, 5,
                                                    11, 4,  12, 3, 13, 2, 14, 1, 15};

/* ---- Bit writer: LSB first, 64-bit buffer, 8 bytes stored at a time ---- */

typedef struct bit_writer {
    uint8_t *p;   /* next byte to store; 8 bytes of slack past the bound */
    uint64_t buf; /* pending bits, the oldest in bit 0 */
    unsigned n;   /* pending bits, < 8 after bw_flush */
} bit_writer;

static inline void bw_put(bit_writer *w, uint64_t bits, unsigned count)
{
    w->buf |= bits << w->n;
    w->n += count;
}

static inline void store64le(uint8_t *p, uint64_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(p, &v, 8);
#else
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
#endif
}

/* Stores the whole pending bytes. After it n < 8, so up to 56 bits may be put before the next
 * (n is at most 63 here: no put is longer than 56 bits). */
static inline void bw_flush(bit_writer *w)
{
    store64le(w->p, w->buf);
    w->p += w->n >> 3;
    w->buf >>= w->n & ~7u;
    w->n &= 7;
}

/* Pads to a byte boundary with zero bits and stores everything. */
static void bw_align(bit_writer *w)
{
    w->n = (w->n + 7) & ~7u;
    bw_flush(w);
}

/* ---- Huffman codes ---- */

typedef struct sym_freq {
    uint32_t freq;
    uint16_t sym;
} sym_freq;

/* Sorts n (<= LITLEN_SYMS) leaves by count, ties by symbol: a stable radix sort over the four
 * bytes of the count, the leaves coming in symbol order (qsort's calls cost more here than the
 * rest of building the codes). */
static void sort_leaves(sym_freq *leaf, int n)
{
    sym_freq tmp[LITLEN_SYMS];
    sym_freq *from = leaf, *to = tmp;
    for (int shift = 0; shift < 32; shift += 8) {
        uint32_t start[257] = {0};
        for (int i = 0; i < n; i++)
            start[((from[i].freq >> shift) & 0xff) + 1]++;
        if (start[1] == (uint32_t)n)
            continue; /* this byte is zero everywhere: nothing moves */
        for (int b = 0; b < 256; b++)
            start[b + 1] += start[b];
        for (int i = 0; i < n; i++)
            to[start[(from[i].freq >> shift) & 0xff]++] = from[i];
        sym_freq *t = from;
        from = to;
        to = t;
    }
    if (from != leaf)
        memcpy(leaf, from, (size_t)n * sizeof *leaf);
}

/* Code lengths (at most max_bits) for n symbols from their counts. A Huffman tree is built
 * (two queues over the sorted leaves); lengths past max_bits are folded back with the Kraft sum
 * kept at one (the length-limiting of miniz and zlib's gen_bitlen), then handed out afresh,
 * shortest to the most frequent. Fewer than two used symbols get two codes of one bit (symbols
 * 0/1 as needed), so every code is complete, as strict inflaters want. */
static void huff_lengths(const uint32_t *freq, int n, int max_bits, uint8_t *len)
{
    sym_freq leaf[LITLEN_SYMS];
    int used = 0;
    memset(len, 0, (size_t)n);
    for (int s = 0; s < n; s++)
        if (freq[s] != 0)
            leaf[used++] = (sym_freq){freq[s], (uint16_t)s};
    if (used < 2) {
        int first = used == 1 ? leaf[0].sym : 0;
        len[first] = 1;
        len[first == 0 ? 1 : 0] = 1;
        return;
    }
    sort_leaves(leaf, used);
    /* Nodes 0..used-1 are leaves, used.. internal nodes in the order made (their weights never
     * decrease). parent[] gives each node's depth once the tree is done. */
    uint64_t weight[2 * LITLEN_SYMS];
    int parent[2 * LITLEN_SYMS];
    for (int i = 0; i < used; i++)
        weight[i] = leaf[i].freq;
    int next_leaf = 0, next_inner = used, made = used;
    for (int k = 0; k < used - 1; k++) {
        int pick[2];
        for (int j = 0; j < 2; j++) {
            if (next_leaf < used && (next_inner >= made || weight[next_leaf] <= weight[next_inner]))
                pick[j] = next_leaf++;
            else
                pick[j] = next_inner++;
        }
        weight[made] = weight[pick[0]] + weight[pick[1]];
        parent[pick[0]] = parent[pick[1]] = made;
        made++;
    }
    int depth[2 * LITLEN_SYMS];
    depth[made - 1] = 0;
    for (int i = made - 2; i >= 0; i--)
        depth[i] = depth[parent[i]] + 1;
    /* count[l]: how many codes have length l (anything deeper than max_bits counted at it). */
    uint32_t count[64] = {0};
    for (int i = 0; i < used; i++)
        count[depth[i] > max_bits ? max_bits : depth[i]]++;
    uint64_t kraft = 0;
    for (int l = 1; l <= max_bits; l++)
        kraft += (uint64_t)count[l] << (max_bits - l);
    while (kraft > ((uint64_t)1 << max_bits)) {
        /* One code of max_bits leaves; a shorter code splits into two one bit longer. */
        count[max_bits]--;
        for (int l = max_bits - 1; l > 0; l--) {
            if (count[l] != 0) {
                count[l]--;
                count[l + 1] += 2;
                break;
            }
        }
        kraft--;
    }
    /* Shortest lengths to the most frequent symbols (the end of the sorted leaves). */
    int i = used - 1;
    for (int l = 1; l <= max_bits; l++)
        for (uint32_t c = 0; c < count[l]; c++)
            len[leaf[i--].sym] = (uint8_t)l;
}

/* Canonical codes from lengths (RFC 1951 3.2.2), bit-reversed for the writer. */
static void huff_codes(const uint8_t *len, int n, uint16_t *code)
{
    uint16_t count[MAX_BITS + 1] = {0}, next[MAX_BITS + 2];
    for (int s = 0; s < n; s++)
        count[len[s]]++;
    count[0] = 0;
    next[1] = 0;
    for (int l = 1; l <= MAX_BITS; l++)
        next[l + 1] = (uint16_t)((next[l] + count[l]) << 1);
    for (int s = 0; s < n; s++) {
        if (len[s] == 0) {
            code[s] = 0;
            continue;
        }
        unsigned c = next[len[s]]++, r = 0;
        for (int b = 0; b < len[s]; b++)
            r |= ((c >> b) & 1u) << (len[s] - 1 - b);
        code[s] = (uint16_t)r;
    }
}

/* ---- The Paeth filter ---- */

/* One row with PNG's Paeth filter (the filter byte first): each byte less the one of left (a),
 * up (b) and up-left (c) nearest to a + b - c. prev is the row above (zeros above the first).
 * Written without branches in 16 bits so that compilers vectorise it; on x86-64 with GCC it is
 * built twice, for AVX2 and for the baseline, and the first call picks by the CPU (it is most of
 * the time of a frame that has little to compress). The choice is a plain function pointer, not
 * an ifunc (target_clones): an ifunc resolver runs while the dynamic loader relocates, before a
 * sanitizer's runtime is up, and crashed every ThreadSanitizer build at start. */
static inline __attribute__((always_inline)) void paeth_row(const uint8_t *restrict row,
                                                            const uint8_t *restrict prev,
                                                            size_t stride, unsigned bpp,
                                                            uint8_t *restrict out)
{
    out[0] = PNG_FILTER_PAETH;
    out++;
    for (size_t i = 0; i < bpp; i++)
        out[i] = (uint8_t)(row[i] - prev[i]); /* a = c = 0: the predictor is b */
    for (size_t i = bpp; i < stride; i++) {
        int16_t a = row[i - bpp], b = prev[i], c = prev[i - bpp];
        int16_t pa = (int16_t)(b - c), pb = (int16_t)(a - c), pc = (int16_t)(pa + pb);
        pa = pa < 0 ? (int16_t)-pa : pa;
        pb = pb < 0 ? (int16_t)-pb : pb;
        pc = pc < 0 ? (int16_t)-pc : pc;
        int16_t bc = pb <= pc ? b : c;
        int16_t pred = ((pa <= pb) & (pa <= pc)) ? a : bc;
        out[i] = (uint8_t)(row[i] - pred);
    }
}

typedef void (*paeth_fn)(const uint8_t *restrict, const uint8_t *restrict, size_t, unsigned,
                         uint8_t *restrict);

static void filter_paeth_baseline(const uint8_t *restrict row, const uint8_t *restrict prev,
                                  size_t stride, unsigned bpp, uint8_t *restrict out)
{
    paeth_row(row, prev, stride, bpp, out);
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target("avx2"))) static void filter_paeth_avx2(const uint8_t *restrict row,
                                                              const uint8_t *restrict prev,
                                                              size_t stride, unsigned bpp,
                                                              uint8_t *restrict out)
{
    paeth_row(row, prev, stride, bpp, out);
}

static paeth_fn paeth_pick(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") ? filter_paeth_avx2 : filter_paeth_baseline;
}
#else
static paeth_fn paeth_pick(void)
{
    return filter_paeth_baseline;
}
#endif

/* The first caller picks; a race only makes two threads pick the same function. */
static void filter_paeth(const uint8_t *restrict row, const uint8_t *restrict prev, size_t stride,
                         unsigned bpp, uint8_t *restrict out)
{
    static _Atomic(paeth_fn) chosen;
    paeth_fn f = atomic_load_explicit(&chosen, memory_order_relaxed);
    if (f == NULL) {
        f = paeth_pick();
        atomic_store_explicit(&chosen, f, memory_order_relaxed);
    }
    f(row, prev, stride, bpp, out);
}

/* ---- Matches of a chunk ---- */

/* Length (3..258) to its code. */
typedef struct len_table {
    uint16_t sym[DEFLATE_MAX_MATCH + 1];
    uint8_t extra_bits[DEFLATE_MAX_MATCH + 1];
    uint16_t extra[DEFLATE_MAX_MATCH + 1];
} len_table;

static void len_table_init(len_table *t)
{
    for (int len = 3; len <= DEFLATE_MAX_MATCH; len++) {
        int c = 28;
        while (length_base[c] > len)
            c--;
        /* 258 has its own code (285), not 284 with 31 extra. */
        t->sym[len] = (uint16_t)(257 + c);
        t->extra_bits[len] = length_extra[c];
        t->extra[len] = (uint16_t)(len - length_base[c]);
    }
}

/* Distance (1..32768) to its code: two codes per power of two past 4. */
static inline int dist_code(unsigned d)
{
    if (d <= 4)
        return (int)d - 1;
    unsigned l = 31u - (unsigned)__builtin_clz(d - 1); /* floor(log2(d - 1)), 2..14 */
    return (int)(2 * l + ((d - 1) >> (l - 1) & 1));
}

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* How many bytes at a and b agree, up to max. */
static inline size_t match_len(const uint8_t *a, const uint8_t *b, size_t max)
{
    size_t n = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    while (n + 8 <= max) {
        uint64_t x = load64(a + n) ^ load64(b + n);
        if (x != 0)
            return n + ((size_t)__builtin_ctzll(x) >> 3);
        n += 8;
    }
#endif
    while (n < max && a[n] == b[n])
        n++;
    return n;
}

/* Bit 7 of byte k set where bytes k..k+4 of x are all zero, for k in 0..3 (bytes of a little-
 * endian load; the exact zero-byte test, no false positives). On a big-endian machine the
 * positions come out wrong: find_matches then misses matches (larger files) but never writes a
 * wrong one, as every match is compared byte by byte before it is taken. */
static inline uint64_t zero_runs5(uint64_t x)
{
    const uint64_t low7 = 0x7f7f7f7f7f7f7f7full;
    uint64_t z = ~(((x & low7) + low7) | x | low7);
    return z & (z >> 8) & (z >> 16) & (z >> 24) & (z >> 32) & 0x80808080ull;
}

/* A match: where it starts in the chunk buffer, its length and distance. */
typedef struct match {
    uint32_t at;
    uint16_t len;
    uint16_t dist;
} match;

typedef struct chunk_stats {
    uint32_t lit[LITLEN_SYMS];
    uint32_t dist[DIST_SYMS];
} chunk_stats;

/* The matches of d[start, end) at distances bpp and row (row 0: none), d being the buffer whose
 * bytes before start are the stream's previous row, and from the (start - min_back)th byte the
 * stream itself (a match never reaches before the stream). Counts literals and matches into st
 * (the end-of-block included). The buffer holds 8 readable bytes past end. Returns the matches. */
static size_t find_matches(const uint8_t *d, size_t start, size_t end, unsigned bpp, size_t row,
                           size_t stream_start, const len_table *lt, const int dist_sym[2],
                           match *m, chunk_stats *st)
{
    memset(st, 0, sizeof *st);
    size_t nm = 0, lit_from = start, i = start;
    while (i < end) {
        /* Four positions at a time: where no five bytes from them repeat the bytes bpp or row
         * back, no match starts, and those bytes stay literals. */
        uint64_t v = load64(d + i);
        uint64_t hits = zero_runs5(v ^ load64(d + i - bpp));
        if (row != 0)
            hits |= zero_runs5(v ^ load64(d + i - row));
        if (hits == 0) {
            i += 4;
            continue;
        }
        i += (size_t)__builtin_ctzll(hits) >> 3;
        if (i >= end)
            break;
        size_t max = end - i < DEFLATE_MAX_MATCH ? end - i : DEFLATE_MAX_MATCH;
        size_t best = 0;
        unsigned which = 0;
        if (i - stream_start >= bpp)
            best = match_len(d + i, d + i - bpp, max);
        if (row != 0 && i - stream_start >= row && best < max) {
            size_t up = match_len(d + i, d + i - row, max);
            if (up > best) {
                best = up;
                which = 1;
            }
        }
        if (best < PNG_FAST_MIN_MATCH) {
            i++;
            continue;
        }
        for (size_t k = lit_from; k < i; k++)
            st->lit[d[k]]++;
        m[nm++] = (match){(uint32_t)i, (uint16_t)best, (uint16_t)(which ? row : bpp)};
        st->lit[lt->sym[best]]++;
        st->dist[dist_sym[which]]++;
        i += best;
        lit_from = i;
    }
    for (size_t k = lit_from; k < end; k++)
        st->lit[d[k]]++;
    st->lit[SYM_EOB]++;
    return nm;
}

/* ---- Blocks ---- */

/* The code-length sequence of lens[0, n) with runs coded by 16/17/18 (their extra bits in
 * extra[]); returns its length. */
static int codelen_rle(const uint8_t *lens, int n, uint8_t *sym, uint8_t *extra)
{
    int out = 0;
    for (int i = 0; i < n;) {
        uint8_t v = lens[i];
        int run = 1;
        while (i + run < n && lens[i + run] == v)
            run++;
        i += run;
        if (v == 0) {
            while (run >= 11) {
                int r = run > 138 ? 138 : run;
                sym[out] = 18;
                extra[out++] = (uint8_t)(r - 11);
                run -= r;
            }
            if (run >= 3) {
                sym[out] = 17;
                extra[out++] = (uint8_t)(run - 3);
                run = 0;
            }
        } else {
            sym[out] = v;
            extra[out++] = 0;
            run--;
            while (run >= 3) {
                int r = run > 6 ? 6 : run;
                sym[out] = 16;
                extra[out++] = (uint8_t)(r - 3);
                run -= r;
            }
        }
        while (run-- > 0) {
            sym[out] = v;
            extra[out++] = 0;
        }
    }
    return out;
}

static void write_stored(bit_writer *w, const uint8_t *data, size_t len, int final)
{
    do {
        size_t n = len > 65535 ? 65535 : len;
        int last = final && n == len;
        bw_put(w, (uint64_t)last, 3); /* BFINAL, BTYPE 00 */
        bw_align(w);
        w->p[0] = (uint8_t)n;
        w->p[1] = (uint8_t)(n >> 8);
        w->p[2] = (uint8_t)~n;
        w->p[3] = (uint8_t)(~n >> 8);
        memcpy(w->p + 4, data, n);
        w->p += 4 + n;
        data += n;
        len -= n;
    } while (len > 0);
}

/* The literals d[from, to): three codes (at most 45 bits) between stores. The writer's state is
 * kept in locals here: stores through a byte pointer may alias the struct, and the compiler
 * would reload it after every one. */
static inline void put_literals(bit_writer *w, const uint32_t *code, const uint8_t *d, size_t from,
                                size_t to)
{
    uint8_t *p = w->p;
    uint64_t buf = w->buf;
    unsigned n = w->n;
    size_t k = from;
    for (; k + 3 <= to; k += 3) {
        uint32_t c0 = code[d[k]], c1 = code[d[k + 1]], c2 = code[d[k + 2]];
        buf |= (uint64_t)(c0 & 0xffff) << n;
        n += c0 >> 16;
        buf |= (uint64_t)(c1 & 0xffff) << n;
        n += c1 >> 16;
        buf |= (uint64_t)(c2 & 0xffff) << n;
        n += c2 >> 16;
        store64le(p, buf);
        p += n >> 3;
        buf >>= n & ~7u;
        n &= 7;
    }
    for (; k < to; k++) {
        uint32_t c = code[d[k]];
        buf |= (uint64_t)(c & 0xffff) << n;
        n += c >> 16;
    }
    w->p = p;
    w->buf = buf;
    w->n = n;
    bw_flush(w);
}

/* One block for d[start, end): dynamic codes from st, or the bytes stored when that is smaller. */
static void write_block(bit_writer *w, const uint8_t *d, size_t start, size_t end, const match *m,
                        size_t nm, const chunk_stats *st, const len_table *lt, int final)
{
    uint8_t lit_len[LITLEN_SYMS], dist_len[DIST_SYMS], cl_len[CODELEN_SYMS];
    uint16_t lit_code[LITLEN_SYMS], dist_code_bits[DIST_SYMS], cl_code[CODELEN_SYMS];
    huff_lengths(st->lit, 286, MAX_BITS, lit_len);
    huff_lengths(st->dist, DIST_SYMS, MAX_BITS, dist_len);
    huff_codes(lit_len, 286, lit_code);
    huff_codes(dist_len, DIST_SYMS, dist_code_bits);

    int hlit = 286, hdist = DIST_SYMS;
    while (hlit > 257 && lit_len[hlit - 1] == 0)
        hlit--;
    while (hdist > 1 && dist_len[hdist - 1] == 0)
        hdist--;
    uint8_t lens[286 + DIST_SYMS], rle_sym[286 + DIST_SYMS], rle_extra[286 + DIST_SYMS];
    memcpy(lens, lit_len, (size_t)hlit);
    memcpy(lens + hlit, dist_len, (size_t)hdist);
    int nrle = codelen_rle(lens, hlit + hdist, rle_sym, rle_extra);
    uint32_t cl_freq[CODELEN_SYMS] = {0};
    for (int i = 0; i < nrle; i++)
        cl_freq[rle_sym[i]]++;
    huff_lengths(cl_freq, CODELEN_SYMS, CODELEN_MAX_BITS, cl_len);
    huff_codes(cl_len, CODELEN_SYMS, cl_code);
    int hclen = CODELEN_SYMS;
    while (hclen > 4 && cl_len[codelen_order[hclen - 1]] == 0)
        hclen--;

    /* Size of this block in bits against storing the bytes: the smaller is written. */
    static const uint8_t rle_extra_bits[CODELEN_SYMS] = {[16] = 2, [17] = 3, [18] = 7};
    uint64_t bits = 3 + 5 + 5 + 4 + 3 * (uint64_t)hclen;
    for (int i = 0; i < nrle; i++)
        bits += cl_len[rle_sym[i]] + rle_extra_bits[rle_sym[i]];
    for (int s = 0; s < 286; s++)
        bits += (uint64_t)st->lit[s] * (lit_len[s] + (s > 256 ? length_extra[s - 257] : 0));
    for (int s = 0; s < DIST_SYMS; s++)
        bits += (uint64_t)st->dist[s] * (dist_len[s] + dist_extra[s]);
    size_t len = end - start;
    if (bits / 8 + 1 > len + 5 * (len / 65535 + 1)) {
        write_stored(w, d + start, len, final);
        return;
    }

    bw_put(w, (uint64_t) final | 2u << 1, 3); /* BFINAL, BTYPE 10: dynamic codes */
    bw_put(w, (uint64_t)(hlit - 257), 5);
    bw_put(w, (uint64_t)(hdist - 1), 5);
    bw_put(w, (uint64_t)(hclen - 4), 4);
    bw_flush(w);
    for (int i = 0; i < hclen; i++) {
        bw_put(w, cl_len[codelen_order[i]], 3);
        bw_flush(w);
    }
    for (int i = 0; i < nrle; i++) {
        bw_put(w, cl_code[rle_sym[i]], cl_len[rle_sym[i]]);
        bw_put(w, rle_extra[i], rle_extra_bits[rle_sym[i]]);
        bw_flush(w);
    }

    /* Literal codes with their lengths in one word; the distance codes and their extra bits
     * are the same for every match of a kind. */
    uint32_t lit[286];
    for (int s = 0; s < 286; s++)
        lit[s] = lit_code[s] | (uint32_t)lit_len[s] << 16;
    size_t at = start;
    for (size_t t = 0; t < nm; t++) {
        put_literals(w, lit, d, at, m[t].at);
        unsigned mlen = m[t].len, dist = m[t].dist, s = lt->sym[mlen];
        int ds = dist_code(dist);
        bw_put(w, lit_code[s], lit_len[s]);
        bw_put(w, lt->extra[mlen], lt->extra_bits[mlen]);
        bw_put(w, dist_code_bits[ds], dist_len[ds]);
        bw_put(w, dist - dist_base[ds], dist_extra[ds]);
        bw_flush(w);
        at = m[t].at + mlen;
    }
    put_literals(w, lit, d, at, end);
    bw_put(w, lit_code[SYM_EOB], lit_len[SYM_EOB]);
    bw_flush(w);
}

/* ---- The stream ---- */

static size_t rows_per_chunk(size_t row)
{
    return PNG_FAST_CHUNK / row > 0 ? PNG_FAST_CHUNK / row : 1;
}

size_t png_fast_zlib_bound(int width, int height, unsigned channels)
{
    size_t row = (size_t)width * channels + 1, len = row * (size_t)height;
    size_t chunks = (size_t)height / rows_per_chunk(row) + 1;
    /* Each chunk at worst stored: 5 bytes a 64 KiB piece (+ 1 of a partial byte before it);
     * the zlib header and adler32; 8 bytes of slack for the writer's 8-byte stores. */
    return len + 6 * (len / 65535 + 1 + chunks) + 2 + 4 + 8;
}

size_t png_fast_zlib(const uint8_t *pixels, int width, int height, unsigned channels, uint8_t *out)
{
    size_t stride = (size_t)width * channels, row = stride + 1;
    size_t rows = rows_per_chunk(row), chunk = rows * row;
    /* buf: the previous filtered row, then a chunk of filtered rows, then 8 bytes of slack for
     * 8-byte loads. */
    uint8_t *buf = md_calloc(1, row + chunk + 8);
    uint8_t *zeros = md_calloc(1, stride);
    match *m = md_malloc((chunk / PNG_FAST_MIN_MATCH + 1) * sizeof *m);
    chunk_stats *st = md_malloc(sizeof *st);
    size_t written = 0;
    if (buf == NULL || zeros == NULL || m == NULL || st == NULL)
        goto done;
    len_table lt;
    len_table_init(&lt);
    size_t row_dist = row <= DEFLATE_WINDOW ? row : 0; /* 0: no matches with the row above */
    int dist_sym[2] = {dist_code(channels), dist_code(row_dist ? (unsigned)row_dist : 1)};
    out[0] = 0x78; /* deflate, 32 KiB window */
    out[1] = 0x01; /* fastest compression; (0x78 << 8 | 0x01) % 31 == 0 */
    bit_writer w = {out + 2, 0, 0};
    uint32_t adler = 1;
    for (int y0 = 0; y0 < height; y0 += (int)rows) {
        int n = height - y0 < (int)rows ? height - y0 : (int)rows;
        for (int k = 0; k < n; k++) {
            int y = y0 + k;
            const uint8_t *px = pixels + (size_t)y * stride;
            filter_paeth(px, y == 0 ? zeros : px - stride, stride, channels,
                         buf + row + (size_t)k * row);
        }
        size_t end = row + (size_t)n * row;
        memset(buf + end, 0, 8);
        size_t nm = find_matches(buf, row, end, channels, row_dist, y0 == 0 ? row : 0, &lt,
                                 dist_sym, m, st);
        write_block(&w, buf, row, end, m, nm, st, &lt, y0 + n == height);
        adler = libdeflate_adler32(adler, buf + row, end - row);
        memcpy(buf, buf + end - row, row); /* the last row becomes the row above */
    }
    bw_align(&w);
    w.p[0] = (uint8_t)(adler >> 24);
    w.p[1] = (uint8_t)(adler >> 16);
    w.p[2] = (uint8_t)(adler >> 8);
    w.p[3] = (uint8_t)adler;
    w.p += 4;
    written = (size_t)(w.p - out);
done:
    md_free(buf);
    md_free(zeros);
    md_free(m);
    md_free(st);
    return written;
}
