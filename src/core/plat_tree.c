/* plat_tree.c — a sorted, descriptor-relative tree walk (Linux, POSIX).
 *
 * Each folder is opened once and its entries are examined with fstatat
 * relative to it, so a deep tree costs one path lookup per entry rather
 * than one per path component. The root is followed if it is a symbolic
 * link (the kext reader follows it too); nothing below it is.
 */
#include "plat_tree.h"
#include "plat.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct walk {
    kx_plat_tree_fn fn;
    void *arg;
    unsigned max_depth;
    char *rel; /* the current entry's path below the root */
    size_t rel_len, rel_cap;
};

static void fill(struct kx_plat_node *n, const struct stat *s, const char *rel)
{
    n->rel = rel;
    n->type = S_ISDIR(s->st_mode)   ? KX_PLAT_NODE_DIR
              : S_ISREG(s->st_mode) ? KX_PLAT_NODE_FILE
              : S_ISLNK(s->st_mode) ? KX_PLAT_NODE_LINK
                                    : KX_PLAT_NODE_OTHER;
    n->size = (int64_t)s->st_size;
    n->mtime_ns = (int64_t)s->st_mtim.tv_sec * 1000000000LL + s->st_mtim.tv_nsec;
    n->ctime_ns = (int64_t)s->st_ctim.tv_sec * 1000000000LL + s->st_ctim.tv_nsec;
    n->ino = (uint64_t)s->st_ino;
    n->mode = s->st_mode & 07777;
    n->uid = s->st_uid;
    n->gid = s->st_gid;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every name in dir but "." and "..", sorted. Closes dir. *ok is 0 when the
 * listing was cut short by a read error. */
static kx_status read_names(DIR *dir, char ***names, size_t *n_names, int *ok)
{
    char **v = NULL;
    size_t n = 0, cap = 0;
    kx_status st = STATUS_SUCCESS;
    struct dirent *e;
    *ok = 1;
    for (;;) {
        errno = 0;
        if (!(e = readdir(dir))) {
            *ok = errno == 0;
            break;
        }
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (n == cap) {
            size_t c = cap ? cap * 2 : 16;
            char **nv = realloc(v, c * sizeof *nv);
            if (!nv) {
                st = STATUS_INSUFFICIENT_RESOURCES;
                break;
            }
            v = nv;
            cap = c;
        }
        if (!(v[n] = strdup(e->d_name))) {
            st = STATUS_INSUFFICIENT_RESOURCES;
            break;
        }
        n++;
    }
    if (st == STATUS_SUCCESS && n > 1)
        qsort(v, n, sizeof *v, compare_names);
    if (st != STATUS_SUCCESS) {
        kx_plat_free_names(v, n);
        v = NULL;
        n = 0;
    }
    *names = v;
    *n_names = n;
    return st;
}

static kx_status rel_push(struct walk *w, const char *name, size_t *saved)
{
    size_t add = strlen(name) + 2;
    *saved = w->rel_len;
    if (w->rel_len + add > w->rel_cap) {
        size_t c = (w->rel_len + add) * 2;
        char *nr = realloc(w->rel, c);
        if (!nr)
            return STATUS_INSUFFICIENT_RESOURCES;
        w->rel = nr;
        w->rel_cap = c;
    }
    if (w->rel_len)
        w->rel[w->rel_len++] = '/';
    strcpy(w->rel + w->rel_len, name);
    w->rel_len += strlen(name);
    return STATUS_SUCCESS;
}

static void rel_pop(struct walk *w, size_t saved)
{
    w->rel_len = saved;
    w->rel[saved] = '\0';
}

/* Reports the folder open as dfd (w->rel; node filled by the caller) and
 * everything in it. Takes dfd. */
static kx_status visit(struct walk *w, int dfd, struct kx_plat_node *node, unsigned depth)
{
    DIR *dir = NULL;
    char **names = NULL;
    size_t n = 0;
    int ok = 0;
    kx_status st = STATUS_SUCCESS;
    if (dfd >= 0 && !(dir = fdopendir(dfd)))
        close(dfd);
    if (dir && (st = read_names(dir, &names, &n, &ok)) != STATUS_SUCCESS) {
        closedir(dir);
        return st;
    }
    if (!dir || !ok)
        node->type = KX_PLAT_NODE_UNLISTED;
    if ((st = w->fn(w->arg, node)) != STATUS_SUCCESS || !dir || !ok)
        goto out;
    for (size_t i = 0; i < n && st == STATUS_SUCCESS; i++) {
        struct stat s;
        struct kx_plat_node child;
        size_t saved;
        if ((st = rel_push(w, names[i], &saved)) != STATUS_SUCCESS)
            break;
        if (fstatat(dirfd(dir), names[i], &s, AT_SYMLINK_NOFOLLOW) != 0) {
            memset(&child, 0, sizeof child);
            child.rel = w->rel;
            child.type = KX_PLAT_NODE_GONE;
            st = w->fn(w->arg, &child);
        } else {
            fill(&child, &s, w->rel);
            if (child.type == KX_PLAT_NODE_DIR && depth + 1 < w->max_depth) {
                int cfd =
                    openat(dirfd(dir), names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                st = visit(w, cfd, &child, depth + 1);
            } else {
                st = w->fn(w->arg, &child);
            }
        }
        rel_pop(w, saved);
    }
out:
    kx_plat_free_names(names, n);
    if (dir)
        closedir(dir);
    return st;
}

kx_status kx_plat_tree_walk(const char *root, unsigned max_depth, kx_plat_tree_fn fn, void *arg)
{
    struct walk w = {fn, arg, max_depth, NULL, 0, 0};
    struct kx_plat_node node;
    struct stat s;
    kx_status st;
    if (stat(root, &s) != 0)
        return kx_status_from_errno(errno);
    if (!(w.rel = calloc(1, 64)))
        return STATUS_INSUFFICIENT_RESOURCES;
    w.rel_cap = 64;
    fill(&node, &s, w.rel);
    if (node.type == KX_PLAT_NODE_DIR && max_depth > 0)
        st = visit(&w, open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC), &node, 0);
    else
        st = fn(arg, &node);
    free(w.rel);
    return st;
}

kx_status kx_plat_dir_open(const char *path, int *fd)
{
    *fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return *fd >= 0 ? STATUS_SUCCESS : kx_status_from_errno(errno);
}

kx_status kx_plat_stat_at(int dirfd, const char *rel, int follow, struct kx_plat_node *node)
{
    struct stat s;
    if (fstatat(dirfd, rel, &s, follow ? 0 : AT_SYMLINK_NOFOLLOW) != 0) {
        int err = errno;
        memset(node, 0, sizeof *node);
        node->rel = rel;
        node->type = KX_PLAT_NODE_GONE;
        return err == ENOENT || err == ENOTDIR ? STATUS_SUCCESS : kx_status_from_errno(err);
    }
    fill(node, &s, rel);
    return STATUS_SUCCESS;
}
