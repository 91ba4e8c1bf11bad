/*
 * video_decode.c — see video_decode.h. Test support code: failures are CHECKs, not error codes.
 */
#include "video_decode.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libswscale/swscale.h>
#include <string.h>

#include "test_util.h"

void decoded_free(decoded *d)
{
    for (int i = 0; i < d->count; i++)
        md_free(d->rgb[i]);
    md_free(d->rgb);
    memset(d, 0, sizeof *d);
}

static void keep_frame(decoded *d, const AVFrame *f)
{
    uint8_t *rgb = md_malloc((size_t)f->width * f->height * 3);
    struct SwsContext *sws =
        sws_getContext(f->width, f->height, f->format, f->width, f->height, AV_PIX_FMT_RGB24,
                       SWS_BILINEAR | SWS_ACCURATE_RND, NULL, NULL, NULL);
    uint8_t *planes[1] = {rgb};
    int strides[1] = {f->width * 3};
    sws_scale(sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, planes, strides);
    sws_freeContext(sws);
    d->rgb = md_realloc_array(d->rgb, (size_t)d->count + 1, sizeof *d->rgb);
    d->rgb[d->count++] = rgb;
    d->width = f->width;
    d->height = f->height;
}

/* Decodes an MP4 file (written to disk: libavformat reads it the way a player would). */
int decode_mp4(const char *path, decoded *d)
{
    AVFormatContext *fmt = NULL;
    AVCodecContext *dec = NULL;
    AVPacket *pkt = av_packet_alloc();
    AVFrame *frame = av_frame_alloc();
    int rc = -1;
    memset(d, 0, sizeof *d);
    if (avformat_open_input(&fmt, path, NULL, NULL) < 0 || avformat_find_stream_info(fmt, NULL) < 0)
        goto done;
    int s = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (s < 0)
        goto done;
    AVStream *st = fmt->streams[s];
    CHECK_INT(AV_CODEC_ID_H264, st->codecpar->codec_id);
    d->pix_fmt = st->codecpar->format;
    d->rate = st->avg_frame_rate;
    d->time_base = st->time_base;
    const AVCodec *codec = avcodec_find_decoder(st->codecpar->codec_id);
    dec = avcodec_alloc_context3(codec);
    avcodec_parameters_to_context(dec, st->codecpar);
    if (avcodec_open2(dec, codec, NULL) < 0)
        goto done;
    int eof = 0;
    while (!eof) {
        int ret = av_read_frame(fmt, pkt);
        if (ret < 0) {
            eof = 1;
            avcodec_send_packet(dec, NULL);
        } else if (pkt->stream_index == s) {
            avcodec_send_packet(dec, pkt);
        }
        av_packet_unref(pkt);
        while (avcodec_receive_frame(dec, frame) == 0) {
            keep_frame(d, frame);
            av_frame_unref(frame);
        }
    }
    rc = 0;
done:
    av_frame_free(&frame);
    av_packet_free(&pkt);
    avcodec_free_context(&dec);
    avformat_close_input(&fmt);
    return rc;
}
