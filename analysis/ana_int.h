/*
 * ana_int.h — helpers shared by the analysis module's own files; not part of its API.
 */
#ifndef ANALYSIS_ANA_INT_H
#define ANALYSIS_ANA_INT_H

#include <stdint.h>

/* Steps of the fine sRGB -> linear table: 16 per byte value, so bytes land on entries. */
#define ANA_FINE_STEPS (255 * 16)

/* The sRGB -> linear tables (filled on first use, then read-only): bytes[256] for 8-bit values,
 * fine[ANA_FINE_STEPS + 2] for encoded values e in [0, 1] at e * ANA_FINE_STEPS (the last entry
 * repeats, so index + 1 is always valid for e <= 1). */
void ana_color_tables(const double **bytes, const float **fine);

/* The finite minimum and maximum of the values where mask is nonzero (mask NULL: all): 1, or
 * 0 (and *mn, *mx untouched) when there is none. Vectorised (colormap.c): the figures scan
 * millions of texels per map. Between equal values (0 and -0) either may come out. */
int ana_finite_range(const float *values, const uint8_t *mask, size_t n, float *mn, float *mx);

#endif
