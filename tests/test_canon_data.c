/*
 * test_canon_data.c — the canonical mesh form on real data: the ICT face with its skin texture,
 * loaded and padded as a job would, round-trips to identical arrays and texture pixels, and the
 * encode/decode times are printed. Skips (77) when the shared data folder is absent.
 */
#include "test_util.h"

#include <string.h>

#include "mesh/mesh.h"

int main(void)
{
    md_limits limits;
    md_limits_default(&limits);
    char obj[4096], skin[4096];
    snprintf(obj, sizeof obj, "%s", test_data("faces/ict/ict_face_identity_A.obj"));
    snprintf(skin, sizeof skin, "%s", test_data("textures/skin_A.png"));

    md_error err;
    mesh *m = NULL;
    img *tex = NULL;
    CHECK_OK(mesh_load(obj, &limits, &m, &err), &err);
    CHECK_OK(img_load(skin, &limits, &tex, &err), &err);
    if (m == NULL || tex == NULL) {
        mesh_free(m);
        img_free(tex);
        return test_done();
    }
    CHECK_OK(mesh_set_texture(m, tex, &err), &err);
    CHECK_OK(mesh_pad_textures(m, &err), &err);

    double start = md_now();
    uint8_t *bytes = NULL;
    size_t len = 0;
    CHECK_OK(mesh_encode_canonical(m, &bytes, &len, &err), &err);
    double encode_s = md_now() - start;
    start = md_now();
    mesh *back = NULL;
    if (bytes != NULL)
        CHECK_OK(mesh_decode_canonical(bytes, len, &limits, &back, &err), &err);
    double decode_s = md_now() - start;
    if (back != NULL) {
        CHECK(strcmp(mesh_format(back), "obj") == 0);
        CHECK_INT(9409, mesh_vertex_count(back));
        CHECK_INT(18460, mesh_triangle_count(back));
        CHECK_INT(mesh_uv_count(m), mesh_uv_count(back));
        CHECK_INT(mesh_material_count(m), mesh_material_count(back));
        size_t t = mesh_triangle_count(m);
        CHECK(memcmp(mesh_positions(m), mesh_positions(back), 12 * (size_t)9409) == 0);
        CHECK(memcmp(mesh_triangles(m), mesh_triangles(back), 12 * t) == 0);
        CHECK(memcmp(mesh_uvs(m), mesh_uvs(back), 8 * (size_t)mesh_uv_count(m)) == 0);
        CHECK(memcmp(mesh_triangle_uvs(m), mesh_triangle_uvs(back), 12 * t) == 0);
        CHECK(memcmp(mesh_triangle_materials(m), mesh_triangle_materials(back), 2 * t) == 0);
        for (uint32_t i = 0; i < mesh_material_count(m); i++) {
            CHECK(strcmp(mesh_material_name(m, i), mesh_material_name(back, i)) == 0);
            const img *a = mesh_material_texture(m, i), *b = mesh_material_texture(back, i);
            CHECK((a == NULL) == (b == NULL));
            if (a != NULL && b != NULL && img_width(a) == img_width(b) &&
                img_height(a) == img_height(b))
                CHECK(memcmp(img_pixels_const(a), img_pixels_const(b),
                             (size_t)img_width(a) * (size_t)img_height(a) * 4) == 0);
            else if (a != NULL && b != NULL)
                CHECK(!"texture sizes differ");
        }
        const img *t0 = mesh_material_texture(back, 0);
        CHECK(t0 != NULL);
        printf("ICT A + skin_A (%dx%d): %zu canonical bytes, encode %.1f ms, decode %.1f ms\n",
               t0 ? img_width(t0) : 0, t0 ? img_height(t0) : 0, len, encode_s * 1e3,
               decode_s * 1e3);
    }
    mesh_free(back);
    md_free(bytes);
    mesh_free(m);
    return test_done();
}
