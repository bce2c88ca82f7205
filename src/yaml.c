/* YAML (and so JSON) to Lua tables and back, through libyaml. The loader reports
   "file:line:column: problem", remembers where each value was written (for the error
   messages of later checks) and refuses alias bombs; the dumper writes the state files. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "joe.h"

enum { MAX_DEPTH = 200, MAX_NODES = 4000000 };

struct loader {
  yaml_parser_t parser;
  yaml_event_t event;
  int has_parser, has_event;
  const char *name;
  int anchors; /* stack index: anchor -> value */
  int sizes;   /* stack index: anchor -> number of nodes it expands to */
  int marks;   /* stack index: table -> {key -> "line:column"} */
  long nodes;  /* nodes so far, aliases counted at their expanded size */
  int depth;
};

/* Free what libyaml holds; also the __gc of the loader, so a raised error frees it. */
static void free_loader(struct loader *ld) {
  if (ld->has_event)
    yaml_event_delete(&ld->event);
  if (ld->has_parser)
    yaml_parser_delete(&ld->parser);
  ld->has_event = ld->has_parser = 0;
}

static int loader_gc(lua_State *L) {
  free_loader(lua_touserdata(L, 1));
  return 0;
}

/* Raise "file:line:column: problem" for a position in the document. */
static int fail_at(lua_State *L, struct loader *ld, yaml_mark_t mark, const char *problem) {
  return luaL_error(L, "%s:%d:%d: %s", ld->name, (int)mark.line + 1, (int)mark.column + 1,
                    problem);
}

/* Advance to the next event, raising the parser's own message on a syntax error. */
static void next_event(lua_State *L, struct loader *ld) {
  if (ld->has_event)
    yaml_event_delete(&ld->event);
  ld->has_event = yaml_parser_parse(&ld->parser, &ld->event);
  if (!ld->has_event)
    fail_at(L, ld, ld->parser.problem_mark, ld->parser.problem ? ld->parser.problem : "error");
}

/* True when `s` is one of the space-separated words of `set`. */
static int one_of(const char *s, const char *set) {
  size_t len = strlen(s);
  for (const char *p = len ? strstr(set, s) : NULL; p; p = strstr(p + 1, s))
    if ((p == set || p[-1] == ' ') && (p[len] == ' ' || p[len] == '\0'))
      return 1;
  return 0;
}

/* YAML 1.1's infinities and NaN (.inf, -.inf, .nan), which Lua's own reader does not know. */
static int special_float(const char *s, lua_Number *x) {
  const char *t = (*s == '-' || *s == '+') ? s + 1 : s;
  if (one_of(t, ".inf .Inf .INF"))
    *x = *s == '-' ? -HUGE_VAL : HUGE_VAL;
  else if (s == t && one_of(s, ".nan .NaN .NAN"))
    *x = NAN;
  else
    return 0;
  return 1;
}

/* Push a scalar: plain ones resolve as YAML 1.1 does (null, booleans, numbers), like the
   PyYAML that CIJOE users know; quoted ones stay strings. */
static void push_scalar(lua_State *L, const yaml_event_t *ev) {
  const char *s = (const char *)ev->data.scalar.value;
  lua_Number x;
  if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || ev->data.scalar.tag)
    lua_pushlstring(L, s, ev->data.scalar.length); /* NOLINT(bugprone-branch-clone): quoted, as
                                                      the last branch is plain: both strings */
  else if (*s == '\0' || one_of(s, "~ null Null NULL"))
    lua_pushnil(L);
  else if (one_of(s, "true True TRUE yes Yes YES on On ON"))
    lua_pushboolean(L, 1);
  else if (one_of(s, "false False FALSE no No NO off Off OFF"))
    lua_pushboolean(L, 0);
  else if (special_float(s, &x))
    lua_pushnumber(L, x);
  else if (!lua_stringtonumber(L, s))
    lua_pushlstring(L, s, ev->data.scalar.length);
}

static long parse_node(lua_State *L, struct loader *ld);

/* t[key] = value for the key and value at the top of the stack, remembering where the
   value was written in marks[t][key]. */
static void store(lua_State *L, struct loader *ld, int t, yaml_mark_t mark) {
  lua_pushvalue(L, t);
  if (lua_rawget(L, ld->marks) == LUA_TNIL) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, t);
    lua_pushvalue(L, -2);
    lua_rawset(L, ld->marks);
  }
  lua_pushvalue(L, -3);
  lua_pushfstring(L, "%d:%d", (int)mark.line + 1, (int)mark.column + 1);
  lua_rawset(L, -3);
  lua_pop(L, 1);
  lua_rawset(L, t);
}

/* The items of a sequence, after its start event; returns the nodes it expands to. */
static long parse_sequence(lua_State *L, struct loader *ld) {
  long size = 1;
  int t = lua_gettop(L);
  for (lua_Integer i = 1;; i++) {
    next_event(L, ld);
    if (ld->event.type == YAML_SEQUENCE_END_EVENT)
      return size;
    lua_pushinteger(L, i);
    yaml_mark_t mark = ld->event.start_mark;
    size += parse_node(L, ld);
    store(L, ld, t, mark);
  }
}

/* The pairs of a mapping, after its start event; keys must be scalars. */
static long parse_mapping(lua_State *L, struct loader *ld) {
  long size = 1;
  int t = lua_gettop(L);
  for (;;) {
    next_event(L, ld);
    if (ld->event.type == YAML_MAPPING_END_EVENT)
      return size;
    if (ld->event.type != YAML_SCALAR_EVENT)
      fail_at(L, ld, ld->event.start_mark, "only scalar mapping keys are supported");
    push_scalar(L, &ld->event);
    if (lua_isnil(L, -1) || lua_rawequal(L, -1, -1) == 0) /* NaN: no Lua table takes it */
      fail_at(L, ld, ld->event.start_mark, "a mapping key is empty, null or .nan");
    next_event(L, ld);
    yaml_mark_t mark = ld->event.start_mark;
    size += parse_node(L, ld);
    store(L, ld, t, mark);
  }
}

/* The anchor of the current event, or NULL; for aliases, the name they refer to. */
static const char *anchor_of(const yaml_event_t *ev) {
  switch (ev->type) {
  case YAML_ALIAS_EVENT: return (const char *)ev->data.alias.anchor;
  case YAML_SCALAR_EVENT: return (const char *)ev->data.scalar.anchor;
  case YAML_SEQUENCE_START_EVENT: return (const char *)ev->data.sequence_start.anchor;
  case YAML_MAPPING_START_EVENT: return (const char *)ev->data.mapping_start.anchor;
  default: return NULL;
  }
}

/* An alias: the anchored value itself (shared, not copied), counted at its full size. */
static long push_alias(lua_State *L, struct loader *ld) {
  lua_pushstring(L, anchor_of(&ld->event));
  lua_pushvalue(L, -1);
  if (lua_rawget(L, ld->sizes) == LUA_TNIL)
    fail_at(L, ld, ld->event.start_mark, "alias to an unknown anchor");
  long size = (long)lua_tointeger(L, -1);
  lua_pop(L, 1);
  lua_rawget(L, ld->anchors);
  return size;
}

/* Push the node that starts at the current event; returns its size in nodes. */
static long parse_node(lua_State *L, struct loader *ld) {
  yaml_mark_t mark = ld->event.start_mark;
  const char *anchor = anchor_of(&ld->event);
  long size = 1;
  if (++ld->depth > MAX_DEPTH)
    fail_at(L, ld, mark, "nesting too deep");
  luaL_checkstack(L, 8, "yaml");
  if (anchor && ld->event.type != YAML_ALIAS_EVENT)
    lua_pushstring(L, anchor);
  else
    lua_pushnil(L);
  switch (ld->event.type) {
  case YAML_ALIAS_EVENT: size = push_alias(L, ld); break;
  case YAML_SCALAR_EVENT: push_scalar(L, &ld->event); break;
  case YAML_SEQUENCE_START_EVENT: lua_newtable(L); size = parse_sequence(L, ld); break;
  case YAML_MAPPING_START_EVENT: lua_newtable(L); size = parse_mapping(L, ld); break;
  default: fail_at(L, ld, mark, "unexpected event");
  }
  ld->nodes += ld->event.type == YAML_ALIAS_EVENT ? size : 1;
  if (ld->nodes > MAX_NODES)
    fail_at(L, ld, mark, "too many nodes after expanding aliases (an alias bomb?)");
  if (!lua_isnil(L, -2)) { /* remember the anchored value and its size */
    lua_pushvalue(L, -2);
    lua_pushvalue(L, -2);
    lua_rawset(L, ld->anchors);
    lua_pushvalue(L, -2);
    lua_pushinteger(L, size);
    lua_rawset(L, ld->sizes);
  }
  lua_remove(L, -2);
  ld->depth--;
  return size;
}

/* Protected part of yaml.load: parse one document from the string at 1. */
static int load_document(lua_State *L) {
  size_t len;
  const char *text = lua_tolstring(L, 1, &len);
  struct loader *ld = lua_newuserdatauv(L, sizeof *ld, 0);
  memset(ld, 0, sizeof *ld);
  lua_newtable(L);
  luaL_setfuncs(L, (const luaL_Reg[]){{"__gc", loader_gc}, {NULL, NULL}}, 0);
  lua_setmetatable(L, -2);
  ld->name = lua_tostring(L, 2);
  ld->has_parser = yaml_parser_initialize(&ld->parser);
  if (!ld->has_parser)
    return luaL_error(L, "%s: cannot initialize the YAML parser", ld->name);
  yaml_parser_set_input_string(&ld->parser, (const unsigned char *)text, len);
  lua_newtable(L), ld->anchors = lua_gettop(L);
  lua_newtable(L), ld->sizes = lua_gettop(L);
  lua_newtable(L), ld->marks = lua_gettop(L);
  do
    next_event(L, ld);
  while (ld->event.type == YAML_STREAM_START_EVENT || ld->event.type == YAML_DOCUMENT_START_EVENT);
  if (ld->event.type == YAML_STREAM_END_EVENT) { /* empty, or only comments */
    lua_pushnil(L);
  } else {
    parse_node(L, ld);
    next_event(L, ld); /* document end */
    next_event(L, ld);
  }
  if (ld->event.type != YAML_STREAM_END_EVENT)
    fail_at(L, ld, ld->event.start_mark, "more than one document");
  free_loader(ld);
  lua_pushvalue(L, ld->marks);
  return 2;
}

/* yaml.load(text [, name]) -> value, marks | nil, "name:line:column: problem".
   marks[t][key] is "line:column" of the value t[key] in the text. */
static int yaml_load(lua_State *L) {
  luaL_checkstring(L, 1);
  lua_settop(L, 2);
  if (lua_isnil(L, 2)) {
    lua_pushliteral(L, "<string>");
    lua_replace(L, 2);
  }
  lua_pushcfunction(L, load_document);
  lua_insert(L, 1);
  if (lua_pcall(L, 2, 2, 0) == LUA_OK)
    return 2;
  lua_pushnil(L);
  lua_insert(L, -2);
  return 2;
}

/* The dump: block YAML written straight into a buffer that a userdata owns (so a raised
   error frees it); strings are double-quoted unless they are plainly safe. */
struct out {
  char *data;
  size_t len, cap;
};

static int out_gc(lua_State *L) {
  struct out *o = lua_touserdata(L, 1);
  free(o->data);
  o->data = NULL;
  return 0;
}

/* Append n bytes; n may be 0 while the buffer is still NULL (no pointer arithmetic then). */
static void put(lua_State *L, struct out *o, const char *s, size_t n) {
  if (n == 0)
    return;
  if (o->len + n > o->cap) {
    size_t cap = (o->cap + n) * 2;
    char *grown = realloc(o->data, cap);
    if (!grown)
      luaL_error(L, "yaml.dump: out of memory");
    o->data = grown;
    o->cap = cap;
  }
  memcpy(o->data + o->len, s, n); /* NOLINT(clang-analyzer-core.NonNullParamChecker): data
     is NULL only while cap is 0, so the branch above grew it (luaL_error does not return,
     but lauxlib.h does not say so) */
  o->len += n;
}

static void put_str(lua_State *L, struct out *o, const char *s) { put(L, o, s, strlen(s)); }

/* Start a line `depth` levels in (nothing before the first line). */
static void newline(lua_State *L, struct out *o, int depth) {
  if (o->len > 0)
    put(L, o, "\n", 1);
  for (int i = 0; i < depth; i++)
    put(L, o, "  ", 2);
}

/* True when the plain form of s would load as something other than this string. */
static int resolves_otherwise(lua_State *L, const char *s) {
  lua_Number x;
  if (one_of(s, "~ null Null NULL true True TRUE yes Yes YES on On ON "
                "false False FALSE no No NO off Off OFF") || special_float(s, &x))
    return 1;
  int is_number = lua_stringtonumber(L, s) != 0;
  if (is_number)
    lua_pop(L, 1);
  return is_number;
}

/* True when s can be written plain and reads back as the same string. */
static int plain_safe(lua_State *L, const char *s, size_t len) {
  static const char first[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./";
  static const char rest[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./ -+:,=@";
  if (len == 0 || strlen(s) != len || !strchr(first, s[0]) || strspn(s, rest) != len)
    return 0;
  if (s[len - 1] == ' ' || s[len - 1] == ':' || strstr(s, ": ") || strstr(s, " #") ||
      strncmp(s, "...", 3) == 0) /* at the start of a line, the end of the document */
    return 0;
  return !resolves_otherwise(L, s);
}

/* Decode the UTF-8 sequence at s (left bytes remain): its length and code point, or 0
   when it is not valid UTF-8. */
static size_t utf8_decode(const unsigned char *s, size_t left, unsigned long *cp) {
  static const unsigned long min[] = {0, 0, 0x80, 0x800, 0x10000};
  size_t n = s[0] < 0x80 ? 1 : (s[0] >> 5) == 6 ? 2 : (s[0] >> 4) == 14 ? 3 : (s[0] >> 3) == 30 ? 4 : 0;
  if (n == 0 || n > left)
    return 0;
  *cp = n == 1 ? s[0] : s[0] & (0x7F >> n);
  for (size_t k = 1; k < n; k++) {
    if ((s[k] & 0xC0) != 0x80)
      return 0;
    *cp = (*cp << 6) | (s[k] & 0x3F);
  }
  if (*cp < min[n] || (*cp >= 0xD800 && *cp <= 0xDFFF) || *cp > 0x10FFFF)
    return 0;
  return n;
}

/* A string in double quotes: bytes that are not UTF-8 become U+FFFD, characters YAML may
   not hold raw are escaped. */
static void put_quoted(lua_State *L, struct out *o, const char *s, size_t len) {
  char esc[16];
  put(L, o, "\"", 1);
  for (size_t i = 0, n; i < len; i += n ? n : 1) {
    unsigned long cp = 0;
    n = utf8_decode((const unsigned char *)s + i, len - i, &cp);
    if (n == 0)
      put_str(L, o, "\xEF\xBF\xBD");
    else if (cp == '"' || cp == '\\')
      put(L, o, cp == '"' ? "\\\"" : "\\\\", 2);
    else if (cp == '\n')
      put(L, o, "\\n", 2);
    else if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0) || cp == 0xFFFE || cp == 0xFFFF)
      put(L, o, esc, (size_t)snprintf(esc, sizeof esc, "\\u%04lx", cp));
    else
      put(L, o, s + i, n);
  }
  put(L, o, "\"", 1);
}

/* A float that loads back as the same number: Lua's own 14 digits when they are enough,
   else 17, which always are (trying 15 and 16 too made every state file slower to write,
   as timestamps need 17); infinities and NaN are spelt as YAML 1.1 spells them. */
static void put_float(lua_State *L, struct out *o, lua_Number x) {
  char buf[64];
  if (isnan(x) || isinf(x)) {
    put_str(L, o, isnan(x) ? ".nan" : x > 0 ? ".inf" : "-.inf");
    return;
  }
  snprintf(buf, sizeof buf, "%.14g", (double)x);
  if (strtod(buf, NULL) != x)
    snprintf(buf, sizeof buf, "%.17g", (double)x);
  put_str(L, o, buf);
  if (!strpbrk(buf, ".e"))
    put_str(L, o, ".0"); /* still a float when read back, as Lua writes it */
}

/* A string, number or boolean at index idx. */
static void put_scalar(lua_State *L, struct out *o, int idx) {
  size_t len;
  int type = lua_type(L, idx);
  if (type == LUA_TBOOLEAN) {
    put_str(L, o, lua_toboolean(L, idx) ? "true" : "false");
  } else if (type == LUA_TNUMBER && !lua_isinteger(L, idx)) {
    put_float(L, o, lua_tonumber(L, idx));
  } else if (type == LUA_TNUMBER) {
    lua_pushvalue(L, idx);
    put_str(L, o, lua_tostring(L, -1));
    lua_pop(L, 1);
  } else if (type == LUA_TSTRING) {
    const char *s = lua_tolstring(L, idx, &len);
    if (plain_safe(L, s, len))
      put(L, o, s, len);
    else
      put_quoted(L, o, s, len);
  } else {
    luaL_error(L, "yaml.dump: cannot write a %s", luaL_typename(L, idx));
  }
}

static void put_value(lua_State *L, struct out *o, int depth, int after_dash);

struct key {
  const char *name;
  lua_Integer index;
};

static int by_name(const void *a, const void *b) {
  return strcmp(((const struct key *)a)->name, ((const struct key *)b)->name);
}

/* The table at the top as "key: value" lines, keys sorted so files compare; with
   inline_first the first pair continues the line after "- ". */
static void put_mapping(lua_State *L, struct out *o, int depth, int inline_first) {
  int t = lua_gettop(L);
  lua_newtable(L); /* keys at 1..n, their string forms at -1..-n */
  int keys = t + 1;
  lua_Integer n = 0;
  for (lua_pushnil(L); lua_next(L, t); lua_pop(L, 1)) {
    lua_pushvalue(L, -2);
    lua_rawseti(L, keys, ++n);
    luaL_tolstring(L, -2, NULL);
    lua_rawseti(L, keys, -n);
  }
  struct key *sorted = lua_newuserdatauv(L, sizeof(struct key) * (size_t)(n + 1), 0);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, keys, -i);
    sorted[i - 1] = (struct key){lua_tostring(L, -1), i};
    lua_pop(L, 1);
  }
  qsort(sorted, (size_t)n, sizeof *sorted, by_name);
  for (lua_Integer i = 0; i < n; i++) {
    if (i > 0 || !inline_first)
      newline(L, o, depth);
    lua_rawgeti(L, keys, sorted[i].index);
    put_scalar(L, o, -1);
    put(L, o, ":", 1);
    lua_gettable(L, t);
    put_value(L, o, depth + 1, 0);
  }
  lua_settop(L, t);
}

/* The value at the top, written after "key:" or "-"; pops it. */
static void put_value(lua_State *L, struct out *o, int depth, int after_dash) {
  if (depth > MAX_DEPTH)
    luaL_error(L, "yaml.dump: nesting too deep (a cycle?)");
  luaL_checkstack(L, 10, "yaml.dump");
  int t = lua_gettop(L);
  lua_Integer len = (lua_Integer)lua_rawlen(L, t), count = 0, in_1_to_len = 0;
  if (lua_type(L, t) == LUA_TTABLE) /* a sequence has the keys 1..len and no others */
    for (lua_pushnil(L); lua_next(L, t); lua_pop(L, 1), count++)
      in_1_to_len += lua_isinteger(L, -2) && lua_tointeger(L, -2) >= 1 && lua_tointeger(L, -2) <= len;
  if (lua_type(L, t) != LUA_TTABLE || count == 0) {
    put(L, o, " ", o->len > 0);
    if (lua_type(L, t) == LUA_TTABLE)
      put_str(L, o, "{}");
    else
      put_scalar(L, o, t);
  } else if (len == count && in_1_to_len == count) {
    for (lua_Integer i = 1; i <= len; i++) {
      newline(L, o, depth);
      put(L, o, "-", 1);
      lua_rawgeti(L, t, i);
      put_value(L, o, depth + 1, 1);
    }
  } else {
    put(L, o, " ", after_dash);
    put_mapping(L, o, depth, after_dash);
  }
  lua_settop(L, t - 1);
}

/* yaml.dump(value) -> YAML text of a value made of tables, strings, numbers, booleans. */
static int yaml_dump(lua_State *L) {
  luaL_checkany(L, 1);
  lua_settop(L, 1);
  struct out *o = lua_newuserdatauv(L, sizeof *o, 0);
  memset(o, 0, sizeof *o);
  lua_newtable(L);
  lua_pushcfunction(L, out_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  lua_pushvalue(L, 1);
  put_value(L, o, 0, 0);
  put(L, o, "\n", 1);
  lua_pushlstring(L, o->data, o->len);
  return 1;
}

int luaopen_cijoe_yaml(lua_State *L) {
  static const luaL_Reg funcs[] = {{"load", yaml_load}, {"dump", yaml_dump}, {NULL, NULL}};
  luaL_newlib(L, funcs);
  return 1;
}
