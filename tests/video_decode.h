/*
 * video_decode.h — decodes an MP4 back to RGB8 frames with libavformat/libavcodec, the way a
 * player reads it, for the tests that check animation.mp4 (test_ana_video, test_cli_outputs).
 */
#ifndef TESTS_VIDEO_DECODE_H
#define TESTS_VIDEO_DECODE_H

#include <libavutil/rational.h>
#include <stdint.h>

typedef struct decoded {
    int count, width, height;
    AVRational rate, time_base;
    int pix_fmt;   /* of the stream, an AVPixelFormat */
    uint8_t **rgb; /* count frames, width*height*3 */
} decoded;

/* Decodes every frame of the file's video stream into d (checks it is H.264). 0 or -1. */
int decode_mp4(const char *path, decoded *d);
void decoded_free(decoded *d);

#endif
