/* YAML (and so JSON) to Lua tables and back, through libyaml. The loader reports
   "file:line:column: problem", remembers where each value was written (for the error
   messages of later checks) and refuses alias bombs; the dumper writes the state files. */
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
  for (const char *p = strstr(set, s); p; p = strstr(p + 1, s))
    if ((p == set || p[-1] == ' ') && (p[len] == ' ' || p[len] == '\0'))
      return 1;
  return 0;
}

/* Push a scalar: plain ones resolve as YAML 1.1 does (null, booleans, numbers), like the
   PyYAML that CIJOE users know; quoted ones stay strings. */
static void push_scalar(lua_State *L, const yaml_event_t *ev) {
  const char *s = (const char *)ev->data.scalar.value;
  if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || ev->data.scalar.tag)
    lua_pushlstring(L, s, ev->data.scalar.length);
  else if (*s == '\0' || one_of(s, "~ null Null NULL"))
    lua_pushnil(L);
  else if (one_of(s, "true True TRUE yes Yes YES on On ON"))
    lua_pushboolean(L, 1);
  else if (one_of(s, "false False FALSE no No NO off Off OFF"))
    lua_pushboolean(L, 0);
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
    if (lua_isnil(L, -1))
      fail_at(L, ld, ld->event.start_mark, "a mapping key is empty or null");
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
  if (ld->event.type == YAML_STREAM_END_EVENT)
    lua_pushnil(L);
  else
    parse_node(L, ld);
  next_event(L, ld); /* document end */
  next_event(L, ld);
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

struct dumper {
  yaml_emitter_t emitter;
  int has_emitter;
  char *out;
  size_t len, cap;
};

/* Free the emitter and its output; also the __gc of the dumper. */
static void free_dumper(struct dumper *d) {
  if (d->has_emitter)
    yaml_emitter_delete(&d->emitter);
  free(d->out);
  d->has_emitter = 0;
  d->out = NULL;
}

static int dumper_gc(lua_State *L) {
  free_dumper(lua_touserdata(L, 1));
  return 0;
}

/* libyaml's output handler: append to a malloc'ed buffer the userdata owns. */
static int append_output(void *data, unsigned char *buf, size_t size) {
  struct dumper *d = data;
  if (d->len + size > d->cap) {
    size_t cap = (d->cap + size) * 2;
    char *grown = realloc(d->out, cap);
    if (!grown)
      return 0;
    d->out = grown;
    d->cap = cap;
  }
  memcpy(d->out + d->len, buf, size);
  d->len += size;
  return 1;
}

/* Hand one event to the emitter, raising its complaint. */
static void emit(lua_State *L, struct dumper *d, yaml_event_t *ev) {
  if (!yaml_emitter_emit(&d->emitter, ev))
    luaL_error(L, "yaml.dump: %s", d->emitter.problem ? d->emitter.problem : "out of memory");
}

/* True when the plain form of s would load as something other than this string. */
static int needs_quotes(lua_State *L, const char *s) {
  if (*s == '\0' || one_of(s, "~ null Null NULL true True TRUE yes Yes YES on On ON "
                              "false False FALSE no No NO off Off OFF"))
    return 1;
  int is_number = lua_stringtonumber(L, s) != 0;
  if (is_number)
    lua_pop(L, 1);
  return is_number;
}

/* Replace the string at the top by a copy where bytes that are not UTF-8 are U+FFFD. */
static void make_utf8(lua_State *L) {
  size_t len, i = 0;
  const unsigned char *s = (const unsigned char *)lua_tolstring(L, -1, &len);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  while (i < len) {
    int n = s[i] < 0x80 ? 1 : (s[i] >> 5) == 6 ? 2 : (s[i] >> 4) == 14 ? 3 : (s[i] >> 3) == 30 ? 4 : 0;
    int ok = n > 0 && i + (size_t)n <= len;
    for (int k = 1; ok && k < n; k++)
      ok = (s[i + (size_t)k] & 0xC0) == 0x80;
    if (ok)
      luaL_addlstring(&b, (const char *)s + i, (size_t)n);
    else
      luaL_addstring(&b, "\xEF\xBF\xBD");
    i += ok ? (size_t)n : 1;
  }
  luaL_pushresult(&b);
  lua_remove(L, -2);
}

/* Emit the scalar form of the value at the top of the stack. */
static void emit_scalar(lua_State *L, struct dumper *d) {
  yaml_event_t ev;
  yaml_scalar_style_t style = YAML_ANY_SCALAR_STYLE;
  int type = lua_type(L, -1);
  if (type != LUA_TSTRING && type != LUA_TNUMBER && type != LUA_TBOOLEAN)
    luaL_error(L, "yaml.dump: cannot write a %s", luaL_typename(L, -1));
  lua_pushstring(L, type == LUA_TBOOLEAN ? (lua_toboolean(L, -1) ? "true" : "false")
                                         : lua_tostring(L, -1));
  const char *s = lua_tostring(L, -1);
  if (type == LUA_TSTRING && needs_quotes(L, s))
    style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
  else if (type == LUA_TSTRING && strchr(s, '\n'))
    style = YAML_LITERAL_SCALAR_STYLE;
  size_t len = lua_rawlen(L, -1);
  if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)len, 1, 1, style)) {
    make_utf8(L);
    s = lua_tolstring(L, -1, &len);
    if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)len, 1, 1, style))
      luaL_error(L, "yaml.dump: out of memory");
  }
  emit(L, d, &ev);
  lua_pop(L, 1);
}

static void emit_value(lua_State *L, struct dumper *d, int depth);

/* Compare the string forms of two keys, for a stable order of mapping keys. */
static int compare_keys(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Emit a table whose keys are not 1..n as a mapping with sorted keys. */
static void emit_mapping(lua_State *L, struct dumper *d, int t, int depth) {
  yaml_event_t ev;
  size_t n = 0;
  lua_newtable(L); /* key string -> original key; keeps the strings alive */
  int keys = lua_gettop(L);
  for (lua_pushnil(L); lua_next(L, t); lua_pop(L, 1)) {
    lua_pushvalue(L, -2);
    lua_pushstring(L, luaL_tolstring(L, -1, NULL));
    lua_remove(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, keys);
    n++;
  }
  const char **sorted = lua_newuserdatauv(L, sizeof(char *) * (n + 1), 0);
  n = 0;
  for (lua_pushnil(L); lua_next(L, keys); lua_pop(L, 1))
    sorted[n++] = lua_tostring(L, -2);
  qsort(sorted, n, sizeof *sorted, compare_keys);
  yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, n ? YAML_BLOCK_MAPPING_STYLE : YAML_FLOW_MAPPING_STYLE);
  emit(L, d, &ev);
  for (size_t i = 0; i < n; i++) {
    lua_pushstring(L, sorted[i]);
    emit_scalar(L, d);
    lua_pushstring(L, sorted[i]);
    lua_rawget(L, keys);
    lua_gettable(L, t);
    emit_value(L, d, depth + 1);
  }
  yaml_mapping_end_event_initialize(&ev);
  emit(L, d, &ev);
  lua_pop(L, 2);
}

/* Emit a table whose keys are exactly 1..n as a sequence. */
static void emit_sequence(lua_State *L, struct dumper *d, int t, lua_Integer n, int depth) {
  yaml_event_t ev;
  yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
  emit(L, d, &ev);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, t, i);
    emit_value(L, d, depth + 1);
  }
  yaml_sequence_end_event_initialize(&ev);
  emit(L, d, &ev);
}

/* Emit the value at the top of the stack and pop it. */
static void emit_value(lua_State *L, struct dumper *d, int depth) {
  if (depth > MAX_DEPTH)
    luaL_error(L, "yaml.dump: nesting too deep (a cycle?)");
  luaL_checkstack(L, 8, "yaml.dump");
  if (lua_type(L, -1) != LUA_TTABLE) {
    emit_scalar(L, d);
    return;
  }
  int t = lua_gettop(L);
  lua_Integer len = (lua_Integer)lua_rawlen(L, t), count = 0;
  for (lua_pushnil(L); lua_next(L, t); lua_pop(L, 1))
    count++;
  if (len > 0 && len == count)
    emit_sequence(L, d, t, len, depth);
  else
    emit_mapping(L, d, t, depth);
  lua_pop(L, 1);
}

/* yaml.dump(value) -> the YAML text of a table of strings, numbers and booleans. */
static int yaml_dump(lua_State *L) {
  yaml_event_t ev;
  luaL_checkany(L, 1);
  lua_settop(L, 1);
  struct dumper *d = lua_newuserdatauv(L, sizeof *d, 0);
  memset(d, 0, sizeof *d);
  lua_newtable(L);
  luaL_setfuncs(L, (const luaL_Reg[]){{"__gc", dumper_gc}, {NULL, NULL}}, 0);
  lua_setmetatable(L, -2);
  d->has_emitter = yaml_emitter_initialize(&d->emitter);
  if (!d->has_emitter)
    return luaL_error(L, "yaml.dump: out of memory");
  yaml_emitter_set_output(&d->emitter, append_output, d);
  yaml_emitter_set_unicode(&d->emitter, 1);
  yaml_emitter_set_width(&d->emitter, -1);
  yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
  emit(L, d, &ev);
  yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
  emit(L, d, &ev);
  lua_pushvalue(L, 1);
  emit_value(L, d, 0);
  yaml_document_end_event_initialize(&ev, 1);
  emit(L, d, &ev);
  yaml_stream_end_event_initialize(&ev);
  emit(L, d, &ev);
  lua_pushlstring(L, d->out ? d->out : "", d->len);
  free_dumper(d);
  return 1;
}

int luaopen_cijoe_yaml(lua_State *L) {
  static const luaL_Reg funcs[] = {{"load", yaml_load}, {"dump", yaml_dump}, {NULL, NULL}};
  luaL_newlib(L, funcs);
  return 1;
}
