/* YAML (and so JSON) to Lua tables, through libyaml: "file:line:column: problem" for bad
   input, where each value was written (for the messages of later checks), no alias bombs
   and no duplicate keys. Writing YAML is Lua's (lua/cijoe/yaml.lua). */
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
  int marks;   /* stack index: table -> {key -> "line:column", or true without want_marks} */
  int want_marks;
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
  if (ld->want_marks)
    lua_pushfstring(L, "%d:%d", (int)mark.line + 1, (int)mark.column + 1);
  else
    lua_pushboolean(L, 1); /* only that the key was seen, for refuse_duplicate */
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

/* Refuse a key written twice in one mapping (YAML forbids it, and the last one winning
   would lose a setting without a word); the key is at the top of the stack. */
static void refuse_duplicate(lua_State *L, struct loader *ld, int t, yaml_mark_t mark) {
  lua_pushvalue(L, t);
  if (lua_rawget(L, ld->marks) == LUA_TTABLE) {
    lua_pushvalue(L, -2);
    int first = lua_rawget(L, -2);
    if (first != LUA_TNIL) {
      const char *key = luaL_tolstring(L, -3, NULL);
      fail_at(L, ld, mark,
              first == LUA_TSTRING
                  ? lua_pushfstring(L, "the key '%s' is given twice (first at %s)", key,
                                    lua_tostring(L, -2))
                  : lua_pushfstring(L, "the key '%s' is given twice", key));
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
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
    refuse_duplicate(L, ld, t, ld->event.start_mark);
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
  if (luaL_newmetatable(L, "cijoe.yaml.loader"))
    luaL_setfuncs(L, (const luaL_Reg[]){{"__gc", loader_gc}, {NULL, NULL}}, 0);
  lua_setmetatable(L, -2);
  ld->name = lua_tostring(L, 2);
  ld->want_marks = lua_toboolean(L, 3);
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
  if (ld->want_marks)
    lua_pushvalue(L, ld->marks);
  else
    lua_pushnil(L);
  return 2;
}

/* yaml.load(text [, name [, marks]]) -> value, marks | nil, "name:line:column: problem".
   marks[t][key] is "line:column" of the value t[key] in the text; marks == false skips
   them (nil instead; a fifth of the time of a one-line document such as a journal's). */
static int yaml_load(lua_State *L) {
  luaL_checkstring(L, 1);
  lua_settop(L, 3);
  if (lua_isnil(L, 2)) {
    lua_pushliteral(L, "<string>");
    lua_replace(L, 2);
  }
  lua_pushboolean(L, lua_isnil(L, 3) || lua_toboolean(L, 3));
  lua_replace(L, 3);
  lua_pushcfunction(L, load_document);
  lua_insert(L, 1);
  if (lua_pcall(L, 3, 2, 0) == LUA_OK)
    return 2;
  lua_pushnil(L);
  lua_insert(L, -2);
  return 2;
}

int luaopen_cijoe_libyaml(lua_State *L) {
  static const luaL_Reg funcs[] = {{"load", yaml_load}, {NULL, NULL}};
  luaL_newlib(L, funcs);
  return 1;
}
