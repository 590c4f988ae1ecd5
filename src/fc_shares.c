// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-fs shares in Firecracker's config file and API, which have no
 * such device: arkvm's extension, under keys of its own so that no
 * Firecracker field changes meaning.
 *
 *   config file:  "arkvm-shares": [ SHARE, ... ]
 *   API:          PUT /arkvm/shares/{tag}  SHARE   (before the start)
 *   SHARE:        {"tag": "work", "host_path": "/srv/ci", "readonly": false,
 *                  "cache": "auto" | "always" | "never",
 *                  "uid_map": {"host": 1000, "guest": 0},
 *                  "gid_map": {"host": 1000, "guest": 0}}
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fc_config.h"
#include "fc_json.h"

static const char *const share_caches[] = { "auto", "always", "never", NULL };

/* An id map {"host": H, "guest": G} under @key: 1 when present. */
static int get_id_map(const json_t *o, const char *key, u32 *host, u32 *guest,
		      struct fc_error *e)
{
	static const char *const keys[] = { "host", "guest", NULL };
	const json_t *v = json_object_get(o, key);
	u64 h, g;

	if (!v || json_is_null(v))
		return 0;
	if (fc_only_keys(v, key, keys, e) || fc_get_u64(v, key, "host", true, &h, e) < 0 ||
	    fc_get_u64(v, key, "guest", true, &g, e) < 0)
		return -EINVAL;
	if (h > UINT32_MAX - 1 || g > UINT32_MAX - 1)
		return fc_fail(e, "%s: ids are below 4294967295", key);
	*host = (u32)h;
	*guest = (u32)g;
	return 1;
}

static int parse_share(const json_t *o, const char *path_tag, struct share_config *sh,
		       struct fc_error *e)
{
	static const char *const keys[] = { "tag", "host_path", "readonly", "cache", "uid_map",
					    "gid_map", NULL };
	static const char what[] = "arkvm-shares";
	unsigned int cache = SHARE_CACHE_AUTO;
	int ret;

	memset(sh, 0, sizeof(*sh));
	if (fc_only_keys(o, what, keys, e) ||
	    fc_get_str(o, what, "tag", true, sh->tag, sizeof(sh->tag), e) < 0 ||
	    fc_get_str(o, what, "host_path", true, sh->path, sizeof(sh->path), e) < 0 ||
	    fc_get_bool(o, what, "readonly", false, &sh->readonly, e) < 0 ||
	    fc_get_enum(o, what, "cache", share_caches, &cache, e) < 0)
		return -EINVAL;
	if (!sh->tag[0] || !sh->path[0])
		return fc_fail(e, "%s: `%s` is empty", what, sh->tag[0] ? "host_path" : "tag");
	if (path_tag && strcmp(path_tag, sh->tag))
		return fc_fail(e, "The tag from the path [%s] does not match the tag from the body [%s]",
			       path_tag, sh->tag);
	sh->cache = (enum share_cache)cache;
	ret = get_id_map(o, "uid_map", &sh->uid_host, &sh->uid_guest, e);
	if (ret < 0)
		return ret;
	sh->uid_map = ret;
	ret = get_id_map(o, "gid_map", &sh->gid_host, &sh->gid_guest, e);
	if (ret < 0)
		return ret;
	sh->gid_map = ret;
	return 0;
}

int fc_put_share(struct vm_config *cfg, const json_t *o, const char *path_tag, struct fc_error *e)
{
	struct vm_config *c = malloc(sizeof(*c));
	struct share_config sh;
	unsigned int i;
	int ret = -EINVAL;

	if (!c)
		return fc_fail(e, "out of memory");
	*c = *cfg;
	if (parse_share(o, path_tag, &sh, e))
		goto out;
	for (i = 0; i < c->nr_shares && strcmp(c->shares[i].tag, sh.tag); i++)
		;
	if (i == c->nr_shares) {
		if (c->nr_shares == CFG_MAX_SHARES) {
			fc_fail(e, "arkvm-shares: arkvm takes at most %d shares", CFG_MAX_SHARES);
			goto out;
		}
		c->nr_shares++;
	}
	c->shares[i] = sh;   /* the same tag again replaces it, as a drive's id does */
	ret = fc_check_config(c, e);
	if (!ret)
		*cfg = *c;
out:
	free(c);
	return ret;
}

json_t *fc_dump_shares(const struct vm_config *cfg)
{
	json_t *a = json_array();

	for (unsigned int i = 0; a && i < cfg->nr_shares; i++) {
		const struct share_config *sh = &cfg->shares[i];
		json_t *o = json_pack("{s:s, s:s, s:b, s:s}", "tag", sh->tag, "host_path", sh->path,
				      "readonly", sh->readonly, "cache", share_caches[sh->cache]);

		if (o && sh->uid_map)
			json_object_set_new(o, "uid_map", json_pack("{s:I, s:I}", "host",
				(json_int_t)sh->uid_host, "guest", (json_int_t)sh->uid_guest));
		if (o && sh->gid_map)
			json_object_set_new(o, "gid_map", json_pack("{s:I, s:I}", "host",
				(json_int_t)sh->gid_host, "guest", (json_int_t)sh->gid_guest));
		json_array_append_new(a, o);
	}
	return a;
}
