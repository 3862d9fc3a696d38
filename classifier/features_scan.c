/*
 * Feature extraction, the scan: one pass over the read window of a prompt (all of a
 * short one; the head and the tail of a long one, cut at whitespace). Per line it
 * counts structure (fences, lists, logs, diffs, quotes, e-mail and document markers);
 * per token it hashes normalised words, bigrams and token shapes into the extractor's
 * groups; over the n-gram part of the window it hashes character n-grams. The code
 * keywords the words are checked against live here too.
 */
#include "classifier/features_internal.h"

#include <stdbool.h>
#include <string.h>

static const char *const code_keywords[] = {
    "def", "return", "function", "class", "import", "const", "let", "var", "int", "void",
    "public", "static", "private", "struct", "include", "printf", "println", "console", "print",
    "elif", "lambda", "async", "await", "yield", "null", "none", "nil", "self", "this", "try",
    "catch", "except", "finally", "throw", "raise", "select", "insert", "update", "delete",
    "where", "join", "create", "table", "alter", "docker", "kubectl", "git", "npm", "pip",
    "yarn", "bash", "shell", "sudo", "chmod", "grep", "awk", "sed", "curl", "ssh", "nginx",
    "regex", "python", "java", "javascript", "typescript", "js", "ts", "rust", "golang", "cpp",
    "csharp", "php", "ruby", "perl", "kotlin", "swift", "scala", "haskell", "html", "css", "div",
    "flexbox", "json", "yaml", "xml", "api", "http", "func", "fn", "impl", "mut", "pub", "usize",
    "str", "bool", "boolean", "dict", "vector", "std", "namespace", "malloc", "pointer",
    "segfault", "compile", "compiler", "debug", "bug", "exception", "traceback", "undefined",
    "node", "react", "vue", "django", "flask", "maven", "gradle", "cmake", "makefile", "gcc",
    "linux", "terminal", "command", "cli", "script", "loop", "variable", "method", "query",
    "database", "postgres", "mysql", "sqlite", "mongodb", "redis", "pytest", "junit", "jest",
    "assert", "code", "array", "string", "integer", "regexp", "repo", "commit", "branch",
    "merge", "rebase", "deploy", "container", "kubernetes", "k8s", "endpoint", "webpack", "npm",
    "vim", "emacs", "vscode", "ide", "stack", "heap", "thread", "mutex", "async", "callback",
    "promise", "cron", "systemd", "config", "env", "dockerfile", "terraform", "ansible", "excel",
    "vba", "powershell", "cmd", "sql", "pandas", "numpy", "dataframe", "tensor", "golang",
    "unittest", "refactor", "syntax", "parse", "parser", "compile", "runtime", "stdout",
    "stderr", "argv", "args", "kwargs", "typeof", "instanceof", "enum", "interface", "extends",
    "implements", "override", "virtual", "template", "typename", "struct", "union", "sizeof",
    "println", "fmt", "err", "nullptr", "auto", "elseif", "foreach", "endif", "fi", "esac",
    "echo", "export", "chown", "ls", "cd", "mkdir", "rm", "cp", "mv", "tar", "ssh", "scp",
};

static void kw_insert(uint32_t *set, uint32_t h)
{
    if (h == 0)
        h = 1;
    size_t i = h & (KW_SET_SIZE - 1);
    while (set[i] != 0 && set[i] != h)
        i = (i + 1) & (KW_SET_SIZE - 1);
    set[i] = h;
}

void clf_scan_keywords_init(uint32_t kw[KW_SET_SIZE])
{
    for (size_t i = 0; i < sizeof(code_keywords) / sizeof(code_keywords[0]); i++)
        kw_insert(kw, hash_norm((const unsigned char *)code_keywords[i],
                                strlen(code_keywords[i]), SEED_WORD, true));
}

static bool kw_has(const uint32_t *set, uint32_t h)
{
    if (h == 0)
        h = 1;
    size_t i = h & (KW_SET_SIZE - 1);
    while (set[i] != 0) {
        if (set[i] == h)
            return true;
        i = (i + 1) & (KW_SET_SIZE - 1);
    }
    return false;
}

/* ---- scanning ---- */


/* p[0..n) starts with the lower-case prefix pre[0..k), ignoring ASCII case */
static inline bool starts_ci_n(const unsigned char *p, size_t n, const char *pre, size_t k)
{
    if (n < k)
        return false;
    for (size_t i = 0; i < k; i++) {
        unsigned char c = p[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c + 32);
        if (c != (unsigned char)pre[i])
            return false;
    }
    return true;
}

#define starts_ci(p, n, lit) starts_ci_n((p), (n), "" lit, sizeof(lit) - 1)

static inline bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static inline bool is_upper(unsigned char c) { return c >= 'A' && c <= 'Z'; }
static inline bool is_lower(unsigned char c) { return c >= 'a' && c <= 'z'; }
static inline bool is_alpha(unsigned char c) { return is_upper(c) || is_lower(c); }
static inline bool is_alnum(unsigned char c) { return is_alpha(c) || is_digit(c); }

struct word_len {
    const char *w;
    size_t n;
};

#define WL(lit) {lit, sizeof(lit) - 1}
static const struct word_len doc_words[] = {
    WL("document"), WL("doc "), WL("source"), WL("article"), WL("email"), WL("e-mail"),
    WL("mail "), WL("report"), WL("passage"), WL("text "), WL("review"), WL("excerpt"),
    WL("message"), WL("memo"), WL("letter"), WL("transcript"), WL("paper"), WL("study"),
    WL("thread"), WL("ticket"), WL("minutes"), WL("part "), WL("chapter"), WL("section"),
    WL("note "), WL("notes"), WL("item"), WL("dokument"), WL("documento"), WL("artikel"),
    WL("quelle"), WL("fuente"), WL("texte"), WL("texto"), WL("bericht"),
};

/* Bit (c - 'a') set for every first letter c of doc_words (keep in step with it):
 * a line starting with any other byte cannot match one. */
#define DOC_FIRST_LETTERS                                                                     \
    (1u << ('a' - 'a') | 1u << ('b' - 'a') | 1u << ('c' - 'a') | 1u << ('d' - 'a') |          \
     1u << ('e' - 'a') | 1u << ('f' - 'a') | 1u << ('i' - 'a') | 1u << ('l' - 'a') |          \
     1u << ('m' - 'a') | 1u << ('n' - 'a') | 1u << ('p' - 'a') | 1u << ('q' - 'a') |          \
     1u << ('r' - 'a') | 1u << ('s' - 'a') | 1u << ('t' - 'a'))

/* Line-level structure: called once per line with the line without its newline. */
static void scan_line(struct counters *k, const unsigned char *p, size_t n)
{
    size_t lead = 0;
    while (lead < n && (p[lead] == ' ' || p[lead] == '\t'))
        lead++;
    const unsigned char *t = p + lead;
    size_t tn = n - lead;
    while (tn > 0 && is_space(t[tn - 1]))
        tn--;
    if (tn == 0) {
        k->in_para = false;
        return;
    }
    k->lines++;
    if (!k->in_para) {
        k->paragraphs++;
        k->in_para = true;
    }
    if (lead >= 4 || (lead >= 1 && p[0] == '\t'))
        k->indent++;
    if (starts_ci(t, tn, "```") || starts_ci(t, tn, "~~~")) {
        k->fences++;
        return;
    }
    /* document markers: "Document 2:", "[3] ...", "--- Source 1 ---", "<doc ...>", "### Email" */
    bool doc = false;
    if (tn >= 3 && t[0] == '[' && is_digit(t[1]) && (t[2] == ']' || (tn >= 4 && t[3] == ']')))
        doc = true;
    else if (starts_ci(t, tn, "<doc") || starts_ci(t, tn, "<source") || starts_ci(t, tn, "<article"))
        doc = true;
    else {
        const unsigned char *q = t;
        size_t qn = tn;
        while (qn > 0 && (*q == '-' || *q == '=' || *q == '#' || *q == '*' || *q == ' ')) {
            q++;
            qn--;
        }
        unsigned char q0 = qn > 0 ? (unsigned char)(q[0] | 0x20) : 0;
        if (qn < 60 && q0 >= 'a' && q0 <= 'z' && (DOC_FIRST_LETTERS >> (q0 - 'a') & 1)) {
            for (size_t i = 0; i < sizeof(doc_words) / sizeof(doc_words[0]); i++) {
                size_t w = doc_words[i].n;
                if (!starts_ci_n(q, qn, doc_words[i].w, w))
                    continue;
                /* followed by a number/letter id, or the line ends with ':' or a rule */
                size_t j = w;
                while (j < qn && q[j] == ' ')
                    j++;
                if ((j < qn && (is_digit(q[j]) || q[j] == '#' ||
                                (is_upper(q[j]) && (j + 1 >= qn || !is_alpha(q[j + 1]))))) ||
                    t[tn - 1] == ':' || t[tn - 1] == '-' || t[tn - 1] == '=')
                    doc = true;
                break;
            }
        }
    }
    if (doc)
        k->doc_markers++;
    if (t[0] == '#' && tn > 1 && (t[1] == '#' || t[1] == ' '))
        k->headings++;

    bool email = false;
    switch (t[0] | 0x20) { /* dispatch on the (lower-cased) first letter */
    case 'b': email = starts_ci(t, tn, "best,") || starts_ci(t, tn, "best regards"); break;
    case 'c': email = starts_ci(t, tn, "cc:") || starts_ci(t, tn, "cheers"); break;
    case 'd': email = starts_ci(t, tn, "date:") || starts_ci(t, tn, "dear "); break;
    case 'f': email = starts_ci(t, tn, "from:"); break;
    case 'h': email = starts_ci(t, tn, "hi ") || starts_ci(t, tn, "hello "); break;
    case 'k': email = starts_ci(t, tn, "kind regards"); break;
    case 'o':
        email = starts_ci(t, tn, "on ") && tn > 8 && starts_ci(t + tn - 6, 6, "wrote:");
        break;
    case 'r': email = starts_ci(t, tn, "regards"); break;
    case 's':
        email = starts_ci(t, tn, "subject:") || starts_ci(t, tn, "sent:") ||
                starts_ci(t, tn, "sincerely");
        break;
    case 't': email = starts_ci(t, tn, "to:") || starts_ci(t, tn, "thanks,"); break;
    default: break;
    }
    if (email)
        k->email++;

    if ((tn >= 2 && (t[0] == '-' || t[0] == '*') && t[1] == ' ') ||
        (tn >= 3 && t[0] == 0xe2 && t[1] == 0x80 && t[2] == 0xa2))
        k->list++;
    else if (tn >= 3 && is_digit(t[0]) && (t[1] == '.' || t[1] == ')') && t[2] == ' ')
        k->list++;

    if (tn >= 3 && ((t[0] >= 'A' && t[0] <= 'E') || (t[0] >= 'a' && t[0] <= 'e')) &&
        (t[1] == ')' || t[1] == '.') && t[2] == ' ')
        k->options++;
    else if (tn >= 4 && t[0] == '(' && t[1] >= 'A' && t[1] <= 'E' && t[2] == ')')
        k->options++;

    if (t[0] == '>')
        k->quote++;

    /* unified diff */
    if (starts_ci(t, tn, "@@") || starts_ci(t, tn, "diff --git") || starts_ci(t, tn, "+++ ") ||
        starts_ci(t, tn, "--- a/") || starts_ci(t, tn, "index ") ||
        (p[0] == '+' && n > 1 && p[1] != '+') ||
        (p[0] == '-' && n > 1 && p[1] != ' ' && p[1] != '-'))
        k->diff++;

    /* log lines: level words and timestamps (flagged while scanning), stack frames */
    bool log = k->line_log || (starts_ci(t, tn, "at ") && memchr(t, '(', tn));
    if (log)
        k->log++;

    /* speaker tags: "Marketing: ...", "Project Manager: ...", "[10:02] Bob: ..." */
    if (!doc) {
        size_t i = 0, words = 0;
        if (t[0] == '[') {
            while (i < tn && t[i] != ']')
                i++;
            i++;
            while (i < tn && t[i] == ' ')
                i++;
        }
        if (i < tn && is_upper(t[i])) {
            while (i < tn && words < 4) {
                while (i < tn && (is_alnum(t[i]) || t[i] == '.' || t[i] == '\'' || t[i] == '-'))
                    i++;
                words++;
                if (i < tn && t[i] == ' ' && i + 1 < tn && is_upper(t[i + 1])) {
                    i++;
                    continue;
                }
                break;
            }
            if (i + 1 < tn && t[i] == ':' && t[i + 1] == ' ' && i < 32 &&
                !starts_ci(t, tn, "note") && !starts_ci(t, tn, "from") &&
                !starts_ci(t, tn, "subject") && !starts_ci(t, tn, "to:"))
                k->speaker++;
        }
    }
}

struct scan {
    struct clf_extractor *ex;
    struct counters *k;
    uint32_t prev_word;   /* hash of previous word, 0 = none */
    unsigned char_min, char_max;
    unsigned edge;                          /* edge_words */
    uint32_t ring[CLF_EDGE_WORDS_MAX];      /* the last edge word hashes, a ring */
};

static const char *const wh_words[] = {
    "what", "who", "whom", "whose", "when", "where", "which", "why", "how", "is", "are", "was",
    "were", "can", "could", "does", "do", "did", "should", "would", "will", "may", "might",
    "shall", "has", "have", "whats", "hows", "wie", "was", "warum", "qué", "que", "cómo",
    "como", "pourquoi", "comment", "quel", "quelle", "est-ce",
};

static bool is_log_word(const unsigned char *w, size_t n, unsigned char next)
{
    switch (n) {
    case 4: return !memcmp(w, "WARN", 4) || !memcmp(w, "INFO", 4);
    case 5: return !memcmp(w, "ERROR", 5) || !memcmp(w, "FATAL", 5) || !memcmp(w, "DEBUG", 5) ||
                   (next == ':' && (!memcmp(w, "error", 5) || !memcmp(w, "panic", 5)));
    case 7: return !memcmp(w, "WARNING", 7);
    case 9: return !memcmp(w, "Exception", 9) || !memcmp(w, "Traceback", 9);
    default: return n > 9 && !memcmp(w + n - 9, "Exception", 9);
    }
}

/* reg: the word's normalised bytes shifted in one at a time (its last 8, first byte
 * highest), so words of up to 8 bytes are hashed without reading them again. */
static void emit_word(struct scan *s, const unsigned char *w, size_t n, bool after_backslash,
                      unsigned char next, uint64_t reg)
{
    struct counters *k = s->k;
    if (!k->line_log && n >= 4 && is_log_word(w, n, next))
        k->line_log = true;
    size_t m = n < 24 ? n : 24;
    bool all_digits = is_digit(w[0]) && is_digit(w[m - 1]);
    for (size_t i = 1; all_digits && i + 1 < m; i++)
        all_digits = is_digit(w[i]);
    if (all_digits) {
        k->numbers++;
        if (m > 4)
            m = 4;
    }
    uint64_t v = 0;
    if (n <= 8) { /* the same bytes hash_norm() would assemble: the first m, little-endian */
        v = __builtin_bswap64(reg) >> (8 * (8 - n));
        if (m < 8)
            v &= (1ull << (8 * m)) - 1;
    }
    uint32_t h = n <= 8 ? hash_block(v, m, SEED_WORD) : hash_norm(w, m, SEED_WORD, true);
    group_add(&s->ex->word, h);
    /* the instruction is usually at one end of a prompt: its first and last words count
     * once more as such, apart from the same words in a pasted body */
    if (k->words < s->edge)
        group_add(&s->ex->word, fmix32(h ^ SEED_EDGE_HEAD));
    s->ring[k->words % CLF_EDGE_WORDS_MAX] = h;
    if (s->prev_word)
        group_add(&s->ex->bigram, fmix32(s->prev_word * 31u + h + SEED_BIGRAM));
    else
        group_add(&s->ex->bigram, fmix32(h ^ SEED_BIGRAM)); /* sentence start */
    s->prev_word = h | 1;
    k->words++;
    if (kw_has(s->ex->kw, h))
        k->keywords++;
    if (after_backslash && n >= 2 && n <= 8 && is_lower(w[0]))
        k->latex++;
    if (!k->have_first) {
        k->have_first = true;
        group_add(&s->ex->word, n <= 8 ? hash_block(v, m, SEED_FIRST)
                                       : hash_norm(w, m, SEED_FIRST, true));
        for (size_t i = 0; i < sizeof(wh_words) / sizeof(wh_words[0]); i++)
            if (strlen(wh_words[i]) == m && starts_ci_n(w, m, wh_words[i], m)) {
                k->starts_wh = true;
                break;
            }
    }
}

static void push_shape(struct scan *s, const char *shape, size_t n)
{
    group_add(&s->ex->shape, clf_hash(shape, n, SEED_SHAPE));
}

#define SHAPE(s, id) group_add(&(s)->ex->shape, (s)->ex->shape_hash[SH_##id])

/* Token shapes of one whitespace-delimited chunk. */
static void emit_chunk(struct scan *s, const unsigned char *c, size_t n, bool line_start)
{
    if (n == 0)
        return;
    if (n > 80)
        n = 80;
    /* fast path: a plain word (one optional leading capital), perhaps with one trailing
     * punctuation mark */
    size_t lw = is_upper(c[0]) && n > 1 && is_lower(c[1]) ? 1 : 0;
    while (lw < n && is_lower(c[lw]))
        lw++;
    if (lw == n || (lw + 1 == n && lw > 0 && (c[lw] == ',' || c[lw] == '.' || c[lw] == '!' ||
                                             c[lw] == '?' || c[lw] == ';' || c[lw] == ':'))) {
        if (line_start) {
            const char ls[2] = {'L', is_upper(c[0]) ? 'A' : 'a'};
            push_shape(s, ls, 2);
        }
        if (c[n - 1] == ';')
            SHAPE(s, STMT);
        else if (c[n - 1] == '?')
            SHAPE(s, QUESTION);
        else if (c[n - 1] == ':' && n > 1)
            SHAPE(s, LABEL);
        return;
    }
    bool paren_call = false, snake = false, camel = false, has_eq = false, has_angle = false;
    bool has_brace = false, nonascii = false, has_alpha = false, has_digit = false;
    bool all_upper = true, slash = false, only_ops = true, url = false;
    size_t letters = 0, last_dot = (size_t)-1;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = c[i];
        if (is_lower(ch)) {
            has_alpha = true;
            letters++;
            all_upper = false;
            only_ops = false;
            continue;
        }
        if (is_upper(ch)) {
            has_alpha = true;
            letters++;
            only_ops = false;
            if (i > 0 && is_lower(c[i - 1]))
                camel = true;
            continue;
        }
        if (is_digit(ch)) {
            has_digit = true;
            only_ops = false;
            continue;
        }
        if (ch >= 0x80) {
            nonascii = true;
            only_ops = false;
            continue;
        }
        switch (ch) {
        case '(':
            if (i > 0 && (is_alnum(c[i - 1]) || c[i - 1] == '_'))
                paren_call = true;
            break;
        case '_':
            only_ops = false;
            if (i > 0 && i + 1 < n && is_alnum(c[i - 1]) && is_alnum(c[i + 1]))
                snake = true;
            break;
        case '=':
            if (i > 0 && i + 1 < n)
                has_eq = true;
            break;
        case '<':
        case '>':
            has_angle = true;
            break;
        case '{':
        case '}':
            has_brace = true;
            break;
        case '/':
            if (i > 0 && i + 1 < n && is_alnum(c[i - 1]) && is_alnum(c[i + 1]))
                slash = true;
            break;
        case ':':
            if (i + 2 < n && c[i + 1] == '/' && c[i + 2] == '/')
                url = true;
            break;
        case '.':
            only_ops = false;
            if (i > 0 && is_alnum(c[i - 1]) && i + 1 < n && is_alpha(c[i + 1]))
                last_dot = i;
            break;
        case '\'':
        case '"':
        case ',':
            only_ops = false;
            break;
        default:
            break;
        }
    }
    if (line_start) {
        char ls[3] = {'L', 0, 0};
        unsigned char f = c[0];
        ls[1] = is_digit(f) ? '0' : is_upper(f) ? 'A' : is_lower(f) ? 'a' : f >= 0x80 ? 'u' : (char)f;
        push_shape(s, ls, 2);
    }
    if (url) {
        s->k->urls++;
        SHAPE(s, URL);
        return;
    }
    if (only_ops && n <= 3) {
        char op[8] = "op:";
        memcpy(op + 3, c, n);
        push_shape(s, op, 3 + n);
        return;
    }
    if (paren_call)
        SHAPE(s, CALL);
    if (snake)
        SHAPE(s, SNAKE);
    if (camel)
        SHAPE(s, CAMEL);
    if (has_eq)
        SHAPE(s, ASSIGN);
    if (has_angle && has_alpha)
        SHAPE(s, TAG);
    if (has_brace)
        SHAPE(s, BRACES);
    if (nonascii)
        SHAPE(s, UTF8);
    if (c[n - 1] == ';')
        SHAPE(s, STMT);
    if (c[n - 1] == '?')
        SHAPE(s, QUESTION);
    if (c[n - 1] == ':' && n > 1)
        SHAPE(s, LABEL);
    if (n >= 3 && c[0] == '-' && c[1] == '-' && is_alpha(c[2]))
        SHAPE(s, LONG_FLAG);
    else if (n >= 2 && n <= 4 && c[0] == '-' && is_alpha(c[1]))
        SHAPE(s, SHORT_FLAG);
    if ((c[0] == '/' || c[0] == '~' || (c[0] == '.' && n > 1 && c[1] == '/')) && n > 1 && has_alpha)
        SHAPE(s, ABS_PATH);
    else if (slash && has_alpha)
        SHAPE(s, SLASHED);
    if (c[0] == '$' && n > 1 && is_digit(c[1]))
        SHAPE(s, DOLLAR_NUM);
    else if (c[0] == '$' && n > 1)
        SHAPE(s, DOLLAR_VAR);
    if (c[0] == '#' && n > 1)
        SHAPE(s, HASHTAG);
    if (c[0] == '@' && n > 1)
        SHAPE(s, MENTION);
    if (letters >= 2 && all_upper && !has_digit)
        SHAPE(s, CAPS);
    if (has_alpha && has_digit)
        SHAPE(s, ALNUM);
    if (!has_alpha && has_digit) {
        if (c[n - 1] == '%')
            SHAPE(s, PERCENT);
        else if (memchr(c, ':', n))
            SHAPE(s, TIME);
        else if (memchr(c, '-', n) && n >= 8)
            SHAPE(s, DATE);
        else if (memchr(c, '.', n))
            SHAPE(s, DECIMAL);
        else
            SHAPE(s, NUMBER);
    }
    if (last_dot != (size_t)-1) {
        size_t e = last_dot + 1, el = 0;
        while (e + el < n && is_alpha(c[e + el]))
            el++;
        if (el >= 1 && el <= 5 && e + el >= n - 1) {
            char ext[12] = "ext:";
            for (size_t i = 0; i < el; i++)
                ext[4 + i] = (char)norm_byte(c[e + i]);
            push_shape(s, ext, 4 + el);
        } else
            SHAPE(s, DOTTED);
    }
}

/* Character n-grams of p[from..to) over the normalised bytes (lower case, digits as '0',
 * whitespace as ' '). */
static void chargrams(const struct scan *s, const unsigned char *p, size_t from, size_t to)
{
    /* group_add() with the group's fields in locals: the byte stores to cnt may alias
     * anything, which would otherwise reload them for every n-gram */
    struct group *g = &s->ex->chr;
    uint8_t *cnt = g->cnt;
    uint32_t *touched = g->touched;
    const uint32_t gmask = g->mask;
    size_t gn = g->n, nt = g->nt;
    const size_t cap = g->cap;
    for (unsigned m = s->char_min; m <= s->char_max; m++) {
        const uint64_t mask = chargram_mask(m), salt = chargram_salt(m);
        uint64_t reg = 0;
        size_t i = from;
        for (; i < to && i < from + m - 1; i++)
            reg = (reg << 8) | norm_tab[p[i]];
        for (; i < to && gn < cap; i++, gn++) {
            reg = (reg << 8) | norm_tab[p[i]];
            uint32_t idx = chargram_hash(reg, mask, salt) & gmask;
            uint8_t c = cnt[idx];
            touched[nt] = idx;
            nt += c == 0;
            cnt[idx] = (uint8_t)(c + (c != 255));
        }
    }
    g->n = gn;
    g->nt = nt;
}

/* Scans p[0..n) a token at a time: structure, words and shapes over all of it; character
 * n-grams only for bytes before chead and from ctail on. */
static void scan_segment(struct scan *s, const unsigned char *p, size_t n, size_t chead,
                         size_t ctail)
{
    struct counters *k = s->k;
    size_t line_start = 0, i = 0;
    bool line_begin = true, pending_op = false;
    unsigned nonspace = 0, digits = 0, nonascii = 0, sym = 0;
    s->prev_word = 0;
    while (i < n) {
        unsigned f = byte_flags[p[i]];
        if (f & F_SPACE) {
            if (f & F_NL) {
                scan_line(k, p + line_start, i - line_start);
                k->line_log = false;
                line_start = i + 1;
                line_begin = true;
            }
            i++;
            continue;
        }
        /* one whitespace-delimited chunk: words and punctuation */
        size_t cs = i;
        while (i < n) {
            f = byte_flags[p[i]];
            if (f & F_SPACE)
                break;
            if (f & F_WORD) {
                size_t ws = i;
                if (pending_op && (f & F_DIGIT))
                    k->math_ops++;
                pending_op = false;
                unsigned any = 0;
                uint64_t reg = 0;
                while (i < n && ((f = byte_flags[p[i]]) & F_WORD)) {
                    reg = (reg << 8) | norm_tab[p[i]];
                    any |= f;
                    i++;
                }
                if (any & F_DIGIT)
                    for (size_t j = ws; j < i; j++)
                        digits += (byte_flags[p[j]] & F_DIGIT) != 0;
                if (any & F_HI)
                    for (size_t j = ws; j < i; j++)
                        nonascii += p[j] >= 0x80;
                emit_word(s, p + ws, i - ws, ws > 0 && p[ws - 1] == '\\', i < n ? p[i] : ' ',
                          reg);
                k->last_nonspace = p[i - 1];
                continue;
            }
            unsigned char c = p[i];
            bool was_pending = pending_op;
            pending_op = false;
            if (f & F_SYM)
                sym++;
            if (c == '?')
                k->qmarks++;
            else if (c == ':' && i >= 2 && i + 4 < n && is_digit(p[i - 2]) && is_digit(p[i - 1]) &&
                     is_digit(p[i + 1]) && is_digit(p[i + 2]) && p[i + 3] == ':' &&
                     is_digit(p[i + 4]))
                k->line_log = true;
            if (was_pending && c == '(')
                k->math_ops++;
            if ((f & F_OP) && (is_digit(k->last_nonspace) || k->last_nonspace == ')'))
                pending_op = true;
            k->last_nonspace = c;
            i++;
        }
        nonspace += (unsigned)(i - cs);
        emit_chunk(s, p + cs, i - cs, line_begin);
        line_begin = false;
    }
    scan_line(k, p + line_start, n - line_start);
    k->line_log = false;
    k->nonspace += nonspace;
    k->digits += digits;
    k->nonascii += nonascii;
    k->sym += sym;

    /* character n-grams; capacity is (window bytes) x (orders), so no overflow */
    size_t h = chead < n ? chead : n;
    chargrams(s, p, 0, h);
    if (ctail < n)
        chargrams(s, p, ctail > h ? ctail : h, n);
}

size_t clf_scan_window(struct clf_extractor *ex, const unsigned char *p, size_t len,
                       struct counters *k)
{
    const struct clf_feature_config *cfg = &ex->cfg;
    struct scan s = {.ex = ex, .k = k, .char_min = cfg->char_min, .char_max = cfg->char_max,
                     .edge = cfg->edge_words};
    size_t window = len;
    size_t ch = cfg->char_head_bytes, ct = cfg->char_tail_bytes;
    if (len <= (size_t)cfg->head_bytes + cfg->tail_bytes) {
        /* character n-grams: the first ch and last ct bytes (all of a short prompt) */
        scan_segment(&s, p, len, ch, len > ct ? len - ct : 0);
    } else {
        /* head ends and tail starts at whitespace, so no word is cut in half */
        size_t h = cfg->head_bytes;
        for (size_t i = 0; i < 64 && h > 0 && !is_space(p[h - 1]); i++)
            h--;
        if (h == 0 || !is_space(p[h - 1]))
            h = cfg->head_bytes;
        size_t t = len - cfg->tail_bytes;
        for (size_t i = 0; i < 64 && t < len && !is_space(p[t]); i++)
            t++;
        if (t >= len || !is_space(p[t]))
            t = len - cfg->tail_bytes;
        scan_segment(&s, p, h, ch, h);
        k->in_para = false;
        size_t tn = len - t;
        scan_segment(&s, p + t, tn, 0, tn > ct ? tn - ct : 0);
        window = h + tn;
    }

    /* ends with '?' (ignoring trailing space/quotes) */
    size_t e = len;
    while (e > 0 && (is_space(p[e - 1]) || p[e - 1] == '"' || p[e - 1] == '\''))
        e--;
    k->ends_q = e > 0 && p[e - 1] == '?';

    unsigned last = k->words < s.edge ? k->words : s.edge;
    for (unsigned i = 1; i <= last; i++)
        group_add(&ex->word, fmix32(s.ring[(k->words - i) % CLF_EDGE_WORDS_MAX] ^ SEED_EDGE_TAIL));

    return window;
}
