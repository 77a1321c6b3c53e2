/* pycache.c: panther_detection_helpers.caching over Redis or an in-process store
 * (pycache.h). The helpers are Python (embedded below) over one C primitive,
 * _ocelot_cache.command(*args), that runs a Redis command through hiredis. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "services/rules-engine/pycache.h"

#include "services/rules-engine/pyhost.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/timeutil.h"

/* After a failure, calls fail without a round trip for this long: a file's events do not
 * each wait for a connect; a rule worker (which never sees oc_pycache_begin) tries again
 * after it. */
#define OC_PYCACHE_FAIL_FAST_US 500000

#define OC_PYCACHE_MAX_ARGS 10010
#define OC_PYCACHE_MAX_REPLY 1000000
#define OC_PYCACHE_MAX_DEPTH 4

static oc_redis_t *oc_pycache_redis; /* owned */
static char *oc_pycache_url;
static pid_t oc_pycache_pid;        /* the process oc_pycache_redis was made in */
static bool oc_pycache_down;        /* since oc_pycache_begin() */
static int64_t oc_pycache_retry_us; /* fail fast until then (monotonic) */
static char oc_pycache_err[512];
static unsigned long oc_pycache_ncalls;

/* The helpers. Kept in Python: their argument handling is Panther's, and the cost of a
 * call is the Redis round trip, not the interpreter. */
static const char oc_pycache_src[] =
    "import json as _json, time as _time\n"
    "import _ocelot_cache as _c\n"
    "CacheUnavailableError = OcelotCacheUnavailableError = _c.OcelotCacheUnavailableError\n"
    "_EPOCH_SECONDS_DELTA_DEFAULT = 90 * 24 * 3600\n"
    "_NOT_GIVEN = object()\n"
    "_MAX_KEY, _MAX_VALS, _MAX_STR, _MAX_KEYS = 2048, 10000, 65536, 1000000\n"
    "def _k(key):\n"
    "    if not isinstance(key, str):\n"
    "        raise TypeError('cache key must be a str, not %s' % type(key).__name__)\n"
    "    n = len(key.encode('utf-8', 'surrogatepass'))\n"
    "    if n == 0 or n > _MAX_KEY:\n"
    "        raise ValueError('cache key must have 1 to %d bytes' % _MAX_KEY)\n"
    "    return key\n"
    "def _strs(val):\n"
    "    vals = {val} if isinstance(val, str) else set(val)\n"
    "    if len(vals) > _MAX_VALS:\n"
    "        raise ValueError('at most %d strings per call' % _MAX_VALS)\n"
    "    for v in vals:\n"
    "        if not isinstance(v, str):\n"
    "            raise TypeError('string set members must be str, not %s' % type(v).__name__)\n"
    "        if len(v) > _MAX_STR:\n"
    "            raise ValueError('string set members are at most %d characters' % _MAX_STR)\n"
    "    return vals\n"
    "def _finalize_epoch_seconds(epoch_seconds):\n"
    "    if isinstance(epoch_seconds, str):\n"
    "        epoch_seconds = float(epoch_seconds)\n"
    "    if isinstance(epoch_seconds, float):\n"
    "        epoch_seconds = int(epoch_seconds)\n"
    "    if not isinstance(epoch_seconds, int):\n"
    "        epoch_seconds = int(_time.time()) + _EPOCH_SECONDS_DELTA_DEFAULT\n"
    "    if epoch_seconds < 1000000000:\n"
    "        epoch_seconds = int(_time.time()) + epoch_seconds\n"
    "    return int(epoch_seconds)\n"
    "def _exp(epoch_seconds):\n"
    "    return '' if epoch_seconds is None else str(_finalize_epoch_seconds(epoch_seconds))\n"
    "_P = 'ocelot:kv:'\n"
    "def _names(key):\n"
    "    return _P + 'c:' + key, _P + 's:' + key, _P + 'd:' + key\n"
    "_INCR = \"local v = redis.call('INCRBY', KEYS[1], ARGV[1]) \" \\\n"
    "    \"if ARGV[2] ~= '' then redis.call('EXPIREAT', KEYS[1], ARGV[2]) end return v\"\n"
    "_ADD = \"for i = 3, #ARGV do redis.call('SADD', KEYS[1], ARGV[i]) end \" \\\n"
    "    \"if ARGV[1] ~= '' then redis.call('EXPIREAT', KEYS[1], ARGV[1]) end \" \\\n"
    "    \"return redis.call('SMEMBERS', KEYS[1])\"\n"
    "_REM = \"for i = 3, #ARGV do redis.call('SREM', KEYS[1], ARGV[i]) end \" \\\n"
    "    \"if ARGV[1] ~= '' then redis.call('EXPIREAT', KEYS[1], ARGV[1]) end \" \\\n"
    "    \"return redis.call('SMEMBERS', KEYS[1])\"\n"
    "_PUT = \"redis.call('DEL', KEYS[1]) \" \\\n"
    "    \"for i = 3, #ARGV do redis.call('SADD', KEYS[1], ARGV[i]) end \" \\\n"
    "    \"redis.call('EXPIREAT', KEYS[1], ARGV[1]) return 1\"\n"
    "_EXPIRE = \"for i = 1, #KEYS do redis.call('EXPIREAT', KEYS[i], ARGV[1]) end return 1\"\n"
    "class _Memory:\n"
    "    '''the in-process store of `ocelot test` without Redis: Redis semantics'''\n"
    "    def __init__(self):\n"
    "        self.d = {}\n"
    "    def get(self, name):\n"
    "        e = self.d.get(name)\n"
    "        if e is not None and e[1] is not None and e[1] <= _time.time():\n"
    "            del self.d[name]\n"
    "            return None\n"
    "        return e\n"
    "    def put(self, name, value, exp):\n"
    "        if name not in self.d and len(self.d) >= _MAX_KEYS:\n"
    "            raise RuntimeError('the in-process cache holds at most %d keys' % _MAX_KEYS)\n"
    "        self.d[name] = [value, exp]\n"
    "    def expire(self, name, exp):\n"
    "        e = self.get(name)\n"
    "        if e is not None:\n"
    "            e[1] = exp\n"
    "            self.get(name)\n"
    "_mem = _Memory()\n"
    "def _redis():\n"
    "    return _c.backend() == 'redis'\n"
    "def _t(exp):\n"
    "    return int(exp) if exp else None\n"
    "def get_counter(key, force_ttl_check=False):\n"
    "    n = _names(_k(key))[0]\n"
    "    if _redis():\n"
    "        v = _c.command('GET', n)\n"
    "        return int(v) if v is not None else 0\n"
    "    e = _mem.get(n)\n"
    "    return e[0] if e else 0\n"
    "def increment_counter(key, val=1, epoch_seconds=_NOT_GIVEN):\n"
    "    n = _names(_k(key))[0]\n"
    "    val = int(val)\n"
    "    exp = _exp(None if epoch_seconds is None else\n"
    "               (_EPOCH_SECONDS_DELTA_DEFAULT if epoch_seconds is _NOT_GIVEN else "
    "epoch_seconds))\n"
    "    if _redis():\n"
    "        return int(_c.command('EVAL', _INCR, '1', n, str(val), exp))\n"
    "    e = _mem.get(n)\n"
    "    v = (e[0] if e else 0) + val\n"
    "    _mem.put(n, v, _t(exp) if exp else (e[1] if e else None))\n"
    "    _mem.get(n)\n"
    "    return v\n"
    "def reset_counter(key):\n"
    "    n = _names(_k(key))[0]\n"
    "    if _redis():\n"
    "        _c.command('DEL', n)\n"
    "    else:\n"
    "        _mem.d.pop(n, None)\n"
    "def set_key_expiration(key, epoch_seconds):\n"
    "    names = _names(_k(key))\n"
    "    exp = str(_finalize_epoch_seconds(epoch_seconds))\n"
    "    if _redis():\n"
    "        _c.command('EVAL', _EXPIRE, '3', *names, exp)\n"
    "    else:\n"
    "        for n in names:\n"
    "            _mem.expire(n, int(exp))\n"
    "def get_string_set(key, force_ttl_check=False):\n"
    "    n = _names(_k(key))[1]\n"
    "    if _redis():\n"
    "        return set(_c.command('SMEMBERS', n))\n"
    "    e = _mem.get(n)\n"
    "    return set(e[0]) if e else set()\n"
    "def reset_string_set(key):\n"
    "    n = _names(_k(key))[1]\n"
    "    if _redis():\n"
    "        _c.command('DEL', n)\n"
    "    else:\n"
    "        _mem.d.pop(n, None)\n"
    "def put_string_set(key, val, epoch_seconds=None):\n"
    "    key = _k(key)\n"
    "    vals = _strs(val) if val else set()\n"
    "    if not vals:\n"
    "        reset_string_set(key)\n"
    "        return\n"
    "    n = _names(key)[1]\n"
    "    exp = str(_finalize_epoch_seconds(epoch_seconds))\n"
    "    if _redis():\n"
    "        _c.command('EVAL', _PUT, '1', n, exp, '', *sorted(vals))\n"
    "    else:\n"
    "        _mem.put(n, vals, int(exp))\n"
    "        _mem.get(n)\n"
    "def _change(key, val, epoch_seconds, add):\n"
    "    key = _k(key)\n"
    "    vals = _strs(val)\n"
    "    if not vals:\n"
    "        return get_string_set(key)\n"
    "    n = _names(key)[1]\n"
    "    exp = _exp(None if epoch_seconds is None else\n"
    "               (_EPOCH_SECONDS_DELTA_DEFAULT if epoch_seconds is _NOT_GIVEN else "
    "epoch_seconds))\n"
    "    if _redis():\n"
    "        return set(_c.command('EVAL', _ADD if add else _REM, '1', n, exp, '', "
    "*sorted(vals)))\n"
    "    e = _mem.get(n)\n"
    "    cur = set(e[0]) if e else set()\n"
    "    cur = cur | vals if add else cur - vals\n"
    "    if not cur:\n"
    "        _mem.d.pop(n, None)\n"
    "        return set()\n"
    "    _mem.put(n, cur, _t(exp) if exp else (e[1] if e else None))\n"
    "    _mem.get(n)\n"
    "    return set(cur)\n"
    "def add_to_string_set(key, val, epoch_seconds=_NOT_GIVEN):\n"
    "    return _change(key, val, epoch_seconds, True)\n"
    "def remove_from_string_set(key, val, epoch_seconds=_NOT_GIVEN):\n"
    "    return _change(key, val, epoch_seconds, False)\n"
    "def put_dictionary(key, val, epoch_seconds=None):\n"
    "    import collections.abc\n"
    "    n = _names(_k(key))[2]\n"
    "    if not isinstance(val, (dict, collections.abc.Mapping)):\n"
    "        raise TypeError('put_dictionary: value is not a dictionary')\n"
    "    try:\n"
    "        data = _json.dumps(val)\n"
    "    except TypeError as exc:\n"
    "        raise ValueError('put_dictionary: value is not JSON serializable') from exc\n"
    "    exp = str(_finalize_epoch_seconds(epoch_seconds))\n"
    "    if _redis():\n"
    "        _c.command('SET', n, data, 'EXAT', exp)\n"
    "    else:\n"
    "        _mem.put(n, data, int(exp))\n"
    "        _mem.get(n)\n"
    "def get_dictionary(key, force_ttl_check=False):\n"
    "    n = _names(_k(key))[2]\n"
    "    if _redis():\n"
    "        data = _c.command('GET', n)\n"
    "    else:\n"
    "        e = _mem.get(n)\n"
    "        data = e[0] if e else None\n"
    "    if not data:\n"
    "        return {}\n"
    "    try:\n"
    "        return _json.loads(data)\n"
    "    except ValueError as exc:\n"
    "        raise ValueError('get_dictionary: the stored value is not JSON') from exc\n"
    "def evaluate_threshold(key, threshold=10, expiry_seconds=3600):\n"
    "    count = increment_counter(key, epoch_seconds=None)\n"
    "    if count == 1:\n"
    "        set_key_expiration(key, int(_time.time()) + expiry_seconds)\n"
    "    elif count >= threshold:\n"
    "        reset_counter(key)\n"
    "        return True\n"
    "    return False\n";

/* ---- the C primitive --------------------------------------------------------------- */

/* Raises CacheUnavailableError (looked up each time: no object outlives an interpreter). */
static PyObject *oc_pycache_raise_unavailable(PyObject *self, const char *why) {
  PyObject *cls = PyObject_GetAttrString(self, OC_PYCACHE_UNAVAILABLE);
  if (!cls) return NULL;
  PyErr_Format(cls, "Redis unavailable: %s", why);
  Py_DECREF(cls);
  return NULL;
}

static PyObject *oc_pycache_reply(const redisReply *r, int depth) {
  switch (r->type) {
    case REDIS_REPLY_INTEGER:
      return PyLong_FromLongLong(r->integer);
    case REDIS_REPLY_NIL:
      Py_RETURN_NONE;
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
      return PyUnicode_DecodeUTF8(r->str, (Py_ssize_t)r->len, "surrogateescape");
    case REDIS_REPLY_ARRAY: {
      if (depth >= OC_PYCACHE_MAX_DEPTH || r->elements > OC_PYCACHE_MAX_REPLY) {
        PyErr_Format(PyExc_RuntimeError, "Redis reply too large or too deep (%zu elements)",
                     r->elements);
        return NULL;
      }
      PyObject *list = PyList_New((Py_ssize_t)r->elements);
      if (!list) return NULL;
      for (size_t i = 0; i < r->elements; i++) {
        PyObject *v = oc_pycache_reply(r->element[i], depth + 1);
        if (!v) {
          Py_DECREF(list);
          return NULL;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, v);
      }
      return list;
    }
    default:
      PyErr_Format(PyExc_RuntimeError, "unexpected Redis reply type %d", r->type);
      return NULL;
  }
}

static PyObject *oc_pycache_command(PyObject *self, PyObject *args) {
  Py_ssize_t n = PyTuple_GET_SIZE(args);
  const char *argv[OC_PYCACHE_MAX_ARGS];
  size_t lens[OC_PYCACHE_MAX_ARGS];
  char errstr[512];
  redisReply *reply = NULL;

  if (n < 1 || n > OC_PYCACHE_MAX_ARGS) {
    PyErr_Format(PyExc_ValueError, "a cache command takes 1 to %d arguments", OC_PYCACHE_MAX_ARGS);
    return NULL;
  }
  if (!oc_pycache_url) {
    PyErr_SetString(PyExc_RuntimeError, "no Redis configured for the cache");
    return NULL;
  }
  if (oc_pycache_redis && oc_pycache_pid != getpid()) {
    /* forked (a rule worker): the inherited socket is the parent's; never share it */
    oc_redis_destroy(oc_pycache_redis);
    oc_pycache_redis = NULL;
  }
  if (!oc_pycache_redis) {
    oc_pycache_redis = oc_redis_new(oc_pycache_url, errstr, sizeof(errstr));
    if (!oc_pycache_redis) {
      PyErr_Format(PyExc_RuntimeError, "invalid cache Redis URL: %s", errstr);
      return NULL;
    }
    oc_pycache_pid = getpid();
  }
  if (oc_pycache_down && oc_monotonic_us() < oc_pycache_retry_us)
    return oc_pycache_raise_unavailable(self, oc_pycache_err);
  for (Py_ssize_t i = 0; i < n; i++) {
    PyObject *a = PyTuple_GET_ITEM(args, i);
    Py_ssize_t len;
    if (!PyUnicode_Check(a)) {
      PyErr_SetString(PyExc_TypeError, "cache command arguments must be str");
      return NULL;
    }
    argv[i] = PyUnicode_AsUTF8AndSize(a, &len);
    if (!argv[i]) return NULL;
    lens[i] = (size_t)len;
  }
  oc_pycache_ncalls++;
  oc_err_t err =
      oc_redis_cmdargv(oc_pycache_redis, &reply, (int)n, argv, lens, errstr, sizeof(errstr));
  if (err == OC_ERR_UNAVAILABLE || err == OC_ERR_NOMEM) {
    oc_pycache_down = true;
    oc_pycache_retry_us = oc_monotonic_us() + OC_PYCACHE_FAIL_FAST_US;
    snprintf(oc_pycache_err, sizeof(oc_pycache_err), "%s", errstr);
    return oc_pycache_raise_unavailable(self, errstr);
  }
  if (err != OC_OK) {
    PyErr_Format(PyExc_RuntimeError, "cache command %s failed: %s", argv[0], errstr);
    return NULL;
  }
  PyObject *v = oc_pycache_reply(reply, 0);
  freeReplyObject(reply);
  return v;
}

static PyObject *oc_pycache_backend(PyObject *self, PyObject *unused) {
  return PyUnicode_FromString(oc_pycache_url ? "redis" : "memory");
}

static PyMethodDef oc_pycache_methods[] = {
    {"command", oc_pycache_command, METH_VARARGS, "run one Redis command (str arguments)"},
    {"backend", oc_pycache_backend, METH_NOARGS, "'redis' or 'memory'"},
    {NULL, NULL, 0, NULL}};

static PyModuleDef oc_pycache_def = {PyModuleDef_HEAD_INIT,
                                     "_ocelot_cache",
                                     "Ocelot's Redis primitive for the caching helpers.",
                                     -1,
                                     oc_pycache_methods,
                                     NULL,
                                     NULL,
                                     NULL,
                                     NULL};

/* ---- public ------------------------------------------------------------------------ */

bool oc_pycache_use_redis(const char *url, char *errstr, size_t errstr_size) {
  oc_redis_t *r = NULL;
  if (url && url[0] && !(r = oc_redis_new(url, errstr, errstr_size))) return false;
  oc_redis_destroy(oc_pycache_redis);
  free(oc_pycache_url);
  oc_pycache_redis = r;
  oc_pycache_pid = getpid();
  oc_pycache_url = r ? strdup(url) : NULL;
  oc_pycache_down = false;
  if (r && !oc_pycache_url) {
    oc_redis_destroy(r);
    oc_pycache_redis = NULL;
    snprintf(errstr, errstr_size, "out of memory");
    return false;
  }
  return true;
}

void oc_pycache_begin(void) {
  oc_pycache_down = false;
  oc_pycache_err[0] = '\0';
}

bool oc_pycache_unavailable(char *errstr, size_t errstr_size) {
  if (oc_pycache_down && errstr && errstr_size) snprintf(errstr, errstr_size, "%s", oc_pycache_err);
  return oc_pycache_down;
}

unsigned long oc_pycache_calls(void) {
  return oc_pycache_ncalls;
}

bool oc_pycache_install(char *errstr, size_t errstr_size) {
  PyObject *modules = PyImport_GetModuleDict(); /* borrowed */
  PyObject *prim = NULL, *exc = NULL, *pkg = NULL, *path = NULL, *code = NULL, *caching = NULL;
  bool ok = false;

  prim = PyModule_Create(&oc_pycache_def);
  if (!prim) goto fail;
  exc = PyErr_NewExceptionWithDoc("_ocelot_cache." OC_PYCACHE_UNAVAILABLE,
                                  "the cache's Redis is unavailable (the batch is retried)",
                                  PyExc_BaseException, NULL);
  if (!exc || PyModule_AddObjectRef(prim, OC_PYCACHE_UNAVAILABLE, exc) != 0) goto fail;
  if (PyDict_SetItemString(modules, "_ocelot_cache", prim) != 0) goto fail;

  pkg = PyModule_New("panther_detection_helpers");
  path = PyList_New(0);
  if (!pkg || !path || PyModule_AddObjectRef(pkg, "__path__", path) != 0) goto fail;
  if (PyDict_SetItemString(modules, "panther_detection_helpers", pkg) != 0) goto fail;
  PyDict_DelItemString(modules, "panther_detection_helpers.caching");
  PyErr_Clear();

  code = Py_CompileString(oc_pycache_src, "<panther_detection_helpers.caching>", Py_file_input);
  if (!code) goto fail;
  caching = PyImport_ExecCodeModule("panther_detection_helpers.caching", code);
  if (!caching || PyModule_AddObjectRef(pkg, "caching", caching) != 0) goto fail;
  ok = true;
  goto out;
fail:
  oc_pyhost_errtext(errstr, errstr_size, "could not install panther_detection_helpers.caching");
out:
  Py_XDECREF(prim);
  Py_XDECREF(exc);
  Py_XDECREF(pkg);
  Py_XDECREF(path);
  Py_XDECREF(code);
  Py_XDECREF(caching);
  return ok;
}
