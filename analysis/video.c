/*
 * video.c — animation.mp4: the frames of a morph as H.264 (libx264 through libavcodec; any
 * other H.264 encoder libavcodec has when libx264 is missing) in an MP4 written to memory.
 *
 * Callers feed frames in playing order (source → target) as they arrive, from one thread at a
 * time (the object is not locked: a caller whose frames finish on several threads orders them
 * first). ana_video owns every FFmpeg object and the output buffer until ana_video_finish hands
 * the bytes over.
 *
 * Pixels: RGB8 → yuv420p (BT.601, limited range, tagged as such) by libswscale. yuv420p halves
 * the chroma resolution, so both sides must be even: an odd side is padded by repeating the
 * last row or column, so the video is at most one pixel larger than the frames and nothing is
 * resampled.
 *
 * Reproducibility: one encoder thread, fixed preset and CRF, FFmpeg's bitexact flags (no
 * library versions in the container): the same frames give the same bytes with the same
 * libraries. x264 writes its version and settings into an SEI message of the stream, as always.
 *
 * Ping-pong: the yuv420p frames are kept (refcounted, 1.5 bytes a pixel) so the way back
 * (frames N−2 … 1) is encoded at finish without converting again; the end frames are not
 * repeated, so the loop plays smoothly and has 2N − 2 frames.
 *
 * Output: a growable buffer behind a custom AVIOContext (write, seek, and read, which the MP4
 * muxer's faststart pass uses to move the moov atom to the front).
 */
#include "analysis/analysis.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
#include <pthread.h>
#include <string.h>

#define VIDEO_DEFAULT_FPS 30
#define VIDEO_DEFAULT_CRF 18
#define VIDEO_PRESET "medium"
#define VIDEO_IO_BUFFER 65536
#define VIDEO_KEPT_MAX_BYTES (4ull << 30) /* ping-pong frames kept in memory */
#define VIDEO_OUT_MAX_BYTES (4ull << 30)

/* ---- Memory I/O ---- */

typedef struct membuf {
    uint8_t *data; /* md_ allocated */
    size_t len, cap;
    int failed;
} membuf;

/* A cursor on the membuf: the muxer's writer, or the reader its faststart pass opens. */
typedef struct memcursor {
    membuf *buf;
    size_t pos;
} memcursor;

static int mem_write(void *opaque, uint8_t *data, int size)
{
    memcursor *c = opaque;
    membuf *b = c->buf;
    if (size < 0 || (uint64_t)c->pos + (uint64_t)size > VIDEO_OUT_MAX_BYTES) {
        b->failed = 1;
        return AVERROR(EFBIG);
    }
    size_t need = c->pos + (size_t)size;
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : (1u << 20);
        while (cap < need)
            cap *= 2;
        uint8_t *grown = md_realloc_array(b->data, cap, 1);
        if (grown == NULL) {
            b->failed = 1;
            return AVERROR(ENOMEM);
        }
        b->data = grown;
        b->cap = cap;
    }
    if (c->pos > b->len) /* a seek past the end leaves a hole of zeros */
        memset(b->data + b->len, 0, c->pos - b->len);
    memcpy(b->data + c->pos, data, (size_t)size);
    c->pos = need;
    if (need > b->len)
        b->len = need;
    return size;
}

static int mem_read(void *opaque, uint8_t *data, int size)
{
    memcursor *c = opaque;
    if (c->pos >= c->buf->len)
        return AVERROR_EOF;
    size_t n = c->buf->len - c->pos;
    n = n < (size_t)size ? n : (size_t)size;
    memcpy(data, c->buf->data + c->pos, n);
    c->pos += n;
    return (int)n;
}

static int64_t mem_seek(void *opaque, int64_t offset, int whence)
{
    memcursor *c = opaque;
    int64_t base;
    switch (whence & ~AVSEEK_FORCE) {
    case AVSEEK_SIZE:
        return (int64_t)c->buf->len;
    case SEEK_SET:
        base = 0;
        break;
    case SEEK_CUR:
        base = (int64_t)c->pos;
        break;
    case SEEK_END:
        base = (int64_t)c->buf->len;
        break;
    default:
        return AVERROR(EINVAL);
    }
    if (offset < -base || base + offset > (int64_t)VIDEO_OUT_MAX_BYTES)
        return AVERROR(EINVAL);
    c->pos = (size_t)(base + offset);
    return (int64_t)c->pos;
}

static AVIOContext *mem_avio(memcursor *c, int writable)
{
    uint8_t *buf = av_malloc(VIDEO_IO_BUFFER);
    if (buf == NULL)
        return NULL;
    AVIOContext *io = avio_alloc_context(buf, VIDEO_IO_BUFFER, writable, c, mem_read,
                                         writable ? mem_write : NULL, mem_seek);
    if (io == NULL)
        av_free(buf);
    return io;
}

static void mem_avio_free(AVIOContext **io)
{
    if (*io == NULL)
        return;
    av_freep(&(*io)->buffer);
    avio_context_free(io);
}

/* ---- The encoder ---- */

struct ana_video {
    int width, height; /* frames as fed */
    int enc_w, enc_h;  /* even */
    ana_video_loop loop;
    membuf out;
    memcursor writer;
    memcursor reader; /* the faststart pass's */
    AVIOContext *io, *read_io;
    AVFormatContext *fmt;
    AVCodecContext *enc;
    AVStream *stream;
    struct SwsContext *sws;
    AVPacket *pkt;
    uint8_t *padded; /* enc_w * enc_h * 3 when a side is odd */
    AVFrame **kept;  /* ping-pong */
    uint32_t kept_count, kept_cap;
    int64_t next_pts;
    int header_written;
    int done; /* finish was called */
};

static int av_fail(md_error *err, int averr, const char *what)
{
    char text[AV_ERROR_MAX_STRING_SIZE] = "";
    av_strerror(averr, text, sizeof text);
    return md_fail(err, averr == AVERROR(ENOMEM) ? MD_ENOMEM : MD_EIO, "video: %s: %s", what, text);
}

/* The muxer's faststart pass reopens its output for reading: serve it from the buffer. */
static int io_open(struct AVFormatContext *s, AVIOContext **pb, const char *url, int flags,
                   AVDictionary **options)
{
    (void)url;
    (void)options;
    ana_video *v = s->opaque;
    if ((flags & AVIO_FLAG_WRITE) || v->read_io != NULL)
        return AVERROR(EPERM);
    v->reader = (memcursor){.buf = &v->out, .pos = 0};
    v->read_io = mem_avio(&v->reader, 0);
    if (v->read_io == NULL)
        return AVERROR(ENOMEM);
    *pb = v->read_io;
    return 0;
}

static int io_close2(struct AVFormatContext *s, AVIOContext *pb)
{
    ana_video *v = s->opaque;
    if (pb == v->read_io)
        mem_avio_free(&v->read_io);
    return 0;
}

void ana_video_free(ana_video *v)
{
    if (v == NULL)
        return;
    for (uint32_t i = 0; i < v->kept_count; i++)
        av_frame_free(&v->kept[i]);
    md_free(v->kept);
    md_free(v->padded);
    av_packet_free(&v->pkt);
    sws_freeContext(v->sws);
    avcodec_free_context(&v->enc);
    if (v->fmt != NULL)
        v->fmt->pb = NULL; /* ours, freed below */
    avformat_free_context(v->fmt);
    mem_avio_free(&v->read_io);
    mem_avio_free(&v->io);
    md_free(v->out.data);
    md_free(v);
}

/* FFmpeg logs through one process-wide level, and libx264 prints a dozen statistics lines per
 * video at its default (INFO): keep only errors, which our own messages repeat anyway. The
 * one piece of global state this module touches, set once. */
static pthread_once_t log_once = PTHREAD_ONCE_INIT;
static void quiet_ffmpeg(void)
{
    av_log_set_level(AV_LOG_ERROR);
}

/* libx264 when present; otherwise any H.264 encoder (its own defaults, our CRF ignored). */
static const AVCodec *find_h264(void)
{
    const AVCodec *codec = avcodec_find_encoder_by_name("libx264");
    return codec != NULL ? codec : avcodec_find_encoder(AV_CODEC_ID_H264);
}

int ana_video_new(int width, int height, const ana_video_opts *opts, ana_video **out, md_error *err)
{
    ana_video_opts o = {.fps = VIDEO_DEFAULT_FPS, .crf = VIDEO_DEFAULT_CRF};
    if (opts != NULL) {
        o = *opts;
        o.fps = o.fps == 0 ? VIDEO_DEFAULT_FPS : o.fps;
        o.crf = o.crf < 0 ? VIDEO_DEFAULT_CRF : o.crf;
    }
    *out = NULL;
    if (width < 2 || height < 2 || width > 16384 || height > 16384)
        return md_fail(err, MD_EINVAL, "video: frame size %dx%d is not in 2..16384", width, height);
    if (o.fps < 1 || o.fps > 240)
        return md_fail(err, MD_EINVAL, "video: %d fps is not in 1..240", o.fps);
    if (o.crf > 51)
        return md_fail(err, MD_EINVAL, "video: CRF %d is not in 0..51", o.crf);
    if (o.loop != ANA_VIDEO_ONCE && o.loop != ANA_VIDEO_PINGPONG)
        return md_fail(err, MD_EINVAL, "video: unknown loop mode %d", (int)o.loop);
    pthread_once(&log_once, quiet_ffmpeg);
    const AVCodec *codec = find_h264();
    if (codec == NULL)
        return md_fail(err, MD_ENODEV,
                       "video: this FFmpeg has no H.264 encoder (install libavcodec with "
                       "libx264: Debian's libavcodec59)");

    ana_video *v = md_calloc(1, sizeof *v);
    AVDictionary *mux_opts = NULL;
    int rc = 0, ret;
    if (v == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory");
    v->width = width;
    v->height = height;
    v->enc_w = (width + 1) & ~1;
    v->enc_h = (height + 1) & ~1;
    v->loop = o.loop;
    v->writer = (memcursor){.buf = &v->out, .pos = 0};

    ret = avformat_alloc_output_context2(&v->fmt, NULL, "mp4", NULL);
    if (ret < 0 || v->fmt == NULL) {
        rc = av_fail(err, ret < 0 ? ret : AVERROR(ENOMEM), "no MP4 muxer");
        goto done;
    }
    v->io = mem_avio(&v->writer, 1);
    v->enc = avcodec_alloc_context3(codec);
    v->pkt = av_packet_alloc();
    if (v->io == NULL || v->enc == NULL || v->pkt == NULL) {
        rc = md_fail(err, MD_ENOMEM, "out of memory");
        goto done;
    }
    v->fmt->pb = v->io;
    v->fmt->flags |= AVFMT_FLAG_CUSTOM_IO | AVFMT_FLAG_BITEXACT;
    v->fmt->opaque = v;
    v->fmt->io_open = io_open;
    v->fmt->io_close2 = io_close2;

    AVCodecContext *enc = v->enc;
    enc->width = v->enc_w;
    enc->height = v->enc_h;
    enc->pix_fmt = AV_PIX_FMT_YUV420P;
    enc->time_base = (AVRational){1, o.fps};
    enc->framerate = (AVRational){o.fps, 1};
    enc->gop_size = o.fps; /* a keyframe a second, for seeking */
    enc->thread_count = 1;
    enc->flags |= AV_CODEC_FLAG_BITEXACT;
    enc->colorspace = AVCOL_SPC_SMPTE170M;
    enc->color_primaries = AVCOL_PRI_SMPTE170M;
    enc->color_trc = AVCOL_TRC_SMPTE170M;
    enc->color_range = AVCOL_RANGE_MPEG;
    if (v->fmt->oformat->flags & AVFMT_GLOBALHEADER)
        enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if (strcmp(codec->name, "libx264") == 0) {
        char crf[16];
        snprintf(crf, sizeof crf, "%d", o.crf);
        av_opt_set(enc->priv_data, "preset", VIDEO_PRESET, 0);
        av_opt_set(enc->priv_data, "crf", crf, 0);
    } else
        md_log(MD_LOG_WARN, "video: libx264 is missing; encoding with %s at its defaults",
               codec->name);
    ret = avcodec_open2(enc, codec, NULL);
    if (ret < 0) {
        rc = av_fail(err, ret, "opening the H.264 encoder");
        goto done;
    }
    v->stream = avformat_new_stream(v->fmt, NULL);
    if (v->stream == NULL) {
        rc = md_fail(err, MD_ENOMEM, "out of memory");
        goto done;
    }
    v->stream->time_base = enc->time_base;
    v->stream->avg_frame_rate = enc->framerate;
    ret = avcodec_parameters_from_context(v->stream->codecpar, enc);
    if (ret < 0) {
        rc = av_fail(err, ret, "stream parameters");
        goto done;
    }
    av_dict_set(&mux_opts, "movflags", "+faststart", 0);
    ret = avformat_write_header(v->fmt, &mux_opts);
    if (ret < 0) {
        rc = av_fail(err, ret, "writing the MP4 header");
        goto done;
    }
    v->header_written = 1;

    v->sws =
        sws_getContext(v->enc_w, v->enc_h, AV_PIX_FMT_RGB24, v->enc_w, v->enc_h, AV_PIX_FMT_YUV420P,
                       SWS_BILINEAR | SWS_ACCURATE_RND | SWS_BITEXACT, NULL, NULL, NULL);
    if (v->sws == NULL) {
        rc = md_fail(err, MD_EINTERNAL, "video: no RGB to yuv420p conversion in libswscale");
        goto done;
    }
    if (v->enc_w != width || v->enc_h != height) {
        v->padded = md_malloc_array((size_t)v->enc_w * v->enc_h, 3);
        if (v->padded == NULL) {
            rc = md_fail(err, MD_ENOMEM, "out of memory");
            goto done;
        }
    }

done:
    av_dict_free(&mux_opts);
    if (rc != 0) {
        ana_video_free(v);
        return rc;
    }
    *out = v;
    return 0;
}

/* Sends frame (NULL: flush) and writes every packet the encoder has ready. */
static int encode(ana_video *v, const AVFrame *frame, md_error *err)
{
    int ret = avcodec_send_frame(v->enc, frame);
    if (ret < 0)
        return av_fail(err, ret, "encoding a frame");
    for (;;) {
        ret = avcodec_receive_packet(v->enc, v->pkt);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            return 0;
        if (ret < 0)
            return av_fail(err, ret, "encoding a frame");
        av_packet_rescale_ts(v->pkt, v->enc->time_base, v->stream->time_base);
        v->pkt->stream_index = v->stream->index;
        ret = av_interleaved_write_frame(v->fmt, v->pkt); /* takes the packet's reference */
        if (ret < 0)
            return v->out.failed ? md_fail(err, MD_ELIMIT, "video: the MP4 exceeds %llu bytes",
                                           (unsigned long long)VIDEO_OUT_MAX_BYTES)
                                 : av_fail(err, ret, "writing the MP4");
    }
}

/* Encodes a frame with the next timestamp; frame is borrowed. */
static int encode_next(ana_video *v, AVFrame *frame, md_error *err)
{
    frame->pts = v->next_pts++;
    return encode(v, frame, err);
}

int ana_video_add_frame(ana_video *v, const uint8_t *rgb, md_error *err)
{
    if (v->done)
        return md_fail(err, MD_EINVAL, "video: frame added after finish");
    const uint8_t *src = rgb;
    if (v->padded != NULL) {
        size_t row = (size_t)v->width * 3, enc_row = (size_t)v->enc_w * 3;
        for (int y = 0; y < v->enc_h; y++) {
            const uint8_t *s = rgb + (size_t)(y < v->height ? y : v->height - 1) * row;
            uint8_t *d = v->padded + (size_t)y * enc_row;
            memcpy(d, s, row);
            if (v->enc_w > v->width)
                memcpy(d + row, s + row - 3, 3);
        }
        src = v->padded;
    }
    AVFrame *frame = av_frame_alloc();
    if (frame == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory");
    frame->format = AV_PIX_FMT_YUV420P;
    frame->width = v->enc_w;
    frame->height = v->enc_h;
    int rc = 0, ret = av_frame_get_buffer(frame, 0);
    if (ret < 0) {
        rc = av_fail(err, ret, "a frame buffer");
        goto done;
    }
    const uint8_t *planes[1] = {src};
    const int strides[1] = {v->enc_w * 3};
    sws_scale(v->sws, planes, strides, 0, v->enc_h, frame->data, frame->linesize);
    rc = encode_next(v, frame, err);
    if (rc == 0 && v->loop == ANA_VIDEO_PINGPONG) {
        uint64_t bytes = (uint64_t)(v->kept_count + 1) * v->enc_w * v->enc_h * 3 / 2;
        if (bytes > VIDEO_KEPT_MAX_BYTES) {
            rc = md_fail(err, MD_ELIMIT, "video: ping-pong would keep more than %llu bytes",
                         (unsigned long long)VIDEO_KEPT_MAX_BYTES);
            goto done;
        }
        if (v->kept_count == v->kept_cap) {
            uint32_t cap = v->kept_cap ? 2 * v->kept_cap : 64;
            AVFrame **grown = md_realloc_array(v->kept, cap, sizeof *grown);
            if (grown == NULL) {
                rc = md_fail(err, MD_ENOMEM, "out of memory");
                goto done;
            }
            v->kept = grown;
            v->kept_cap = cap;
        }
        v->kept[v->kept_count++] = frame; /* keeps the buffer's reference */
        frame = NULL;
    }
done:
    av_frame_free(&frame);
    return rc;
}

int ana_video_finish(ana_video *v, uint8_t **bytes, size_t *len, md_error *err)
{
    *bytes = NULL;
    *len = 0;
    if (v->done)
        return md_fail(err, MD_EINVAL, "video: finished twice");
    v->done = 1;
    if (v->next_pts == 0)
        return md_fail(err, MD_EINVAL, "video: no frames");
    int rc = 0;
    /* The way back: N-2 ... 1, so neither end frame plays twice in a row. */
    for (uint32_t i = v->kept_count >= 2 ? v->kept_count - 2 : 0; rc == 0 && i >= 1; i--) {
        AVFrame *copy = av_frame_clone(v->kept[i]);
        if (copy == NULL)
            return md_fail(err, MD_ENOMEM, "out of memory");
        rc = encode_next(v, copy, err);
        av_frame_free(&copy);
    }
    if (rc == 0)
        rc = encode(v, NULL, err);
    if (rc != 0)
        return rc;
    int ret = av_write_trailer(v->fmt);
    if (ret < 0)
        return av_fail(err, ret, "finishing the MP4");
    avio_flush(v->io);
    if (v->out.failed)
        return md_fail(err, MD_ENOMEM, "video: out of memory for the MP4");
    *bytes = v->out.data;
    *len = v->out.len;
    v->out = (membuf){0};
    return 0;
}
