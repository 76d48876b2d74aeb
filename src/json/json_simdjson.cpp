/*
 * json_simdjson.cpp - json.h on simdjson's DOM parser.
 *
 * The only C++ in the tree (see docs/ARCHITECTURE.md): a thin layer that
 * turns simdjson's error codes into tw_err codes with messages and its
 * element and iterator classes into the opaque handles of json.h. It is
 * built without exceptions and without RTTI; every simdjson call used here
 * is a noexcept one that reports through an error_code.
 *
 * The DOM parser builds a tape of the whole document and checks every byte
 * while doing so (UTF-8, structure, numbers, depth), which is what json.h
 * promises: nothing is parsed lazily. A handle is a simdjson element (a
 * pointer to the document and an index into its tape), copied bit for bit
 * into the opaque words of struct tw_json.
 */
#include <simdjson.h>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>
#include <new>
#include <type_traits>

extern "C" {
#include "json/json.h"
}

namespace
{

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

/*
 * simdjson keeps a container's element count in 24 bits of its tape word
 * and saturates there; at that value the count has to be walked.
 */
constexpr size_t json_count_saturated = 0xFFFFFF;

/* What the array or object iterator of struct tw_json_iter holds. */
struct json_array_pos {
    array::iterator at;
    array::iterator end;
};

struct json_object_pos {
    object::iterator at;
    object::iterator end;
};

static_assert(sizeof(element) <= sizeof(struct tw_json),
              "a simdjson element must fit in struct tw_json");
static_assert(std::is_trivially_copyable<element>::value,
              "struct tw_json is copied bit for bit");
static_assert(sizeof(json_array_pos) <= sizeof(struct tw_json_iter),
              "two array iterators must fit in struct tw_json_iter");
static_assert(sizeof(json_object_pos) <= sizeof(struct tw_json_iter),
              "two object iterators must fit in struct tw_json_iter");
static_assert(std::is_trivially_copyable<json_array_pos>::value &&
                  std::is_trivially_copyable<json_object_pos>::value,
              "struct tw_json_iter is copied bit for bit");

element json_unwrap(struct tw_json value)
{
    element e;

    std::memcpy(static_cast<void *>(&e), value.opaque, sizeof(e));
    return e;
}

struct tw_json json_wrap(element e)
{
    struct tw_json value = {};

    std::memcpy(value.opaque, static_cast<const void *>(&e), sizeof(e));
    return value;
}

/* Each call site has checked the type first, so failing here is a bug. */
template <typename T> T json_get(struct tw_json value)
{
    T out{};
    simdjson::error_code err = json_unwrap(value).get(out);

    assert(err == simdjson::SUCCESS && "json.h: value read as a wrong type");
    (void)err;
    return out;
}

int json_parse_error(simdjson::error_code err, uint32_t max_depth)
{
    switch (err) {
    case simdjson::CAPACITY:
        return tw_err_set(TW_EFULL, "the document is larger than the parser "
                                    "accepts");
    case simdjson::MEMALLOC:
        return tw_err_set(TW_ENOMEM, "out of memory while parsing JSON");
    case simdjson::DEPTH_ERROR:
        return tw_err_set(TW_EINVAL,
                          "the document is nested deeper than %u levels",
                          (unsigned)max_depth);
    case simdjson::UTF8_ERROR:
        return tw_err_set(TW_EINVAL, "invalid UTF-8 in the document");
    case simdjson::NUMBER_ERROR:
        return tw_err_set(TW_EINVAL,
                          "a number is malformed or out of range (integers "
                          "must fit in 64 bits, others in a double)");
    case simdjson::EMPTY:
        return tw_err_set(TW_EINVAL, "the document is empty (no JSON value)");
    case simdjson::UNESCAPED_CHARS:
        return tw_err_set(TW_EINVAL, "a string holds an unescaped control "
                                     "character");
    case simdjson::UNCLOSED_STRING:
        return tw_err_set(TW_EINVAL, "a string is not closed");
    case simdjson::STRING_ERROR:
        return tw_err_set(TW_EINVAL, "a string holds an invalid escape");
    case simdjson::T_ATOM_ERROR:
    case simdjson::F_ATOM_ERROR:
    case simdjson::N_ATOM_ERROR:
        return tw_err_set(TW_EINVAL, "a literal is not true, false or null");
    default:
        return tw_err_set(TW_EINVAL, "not one JSON value: %s",
                          simdjson::error_message(err));
    }
}

/* A member of b named like a's member, with an equal value. */
bool json_object_has(object b, std::string_view key, element value)
{
    for (object::iterator it = b.begin(); it != b.end(); ++it) {
        if (it.key() == key &&
            tw_json_equal(json_wrap(value), json_wrap(it.value()))) {
            return true;
        }
    }
    return false;
}

/* Every member of a has its match in b (duplicate names count too). */
bool json_object_within(object a, object b)
{
    for (object::iterator it = a.begin(); it != a.end(); ++it) {
        if (!json_object_has(b, it.key(), it.value())) {
            return false;
        }
    }
    return true;
}

/*
 * Objects usually list their members in the same order; walking both side
 * by side settles that case in one pass. Any difference in order falls
 * back to looking each member up, both ways, so that duplicate names
 * cannot make a subset pass.
 */
bool json_object_equal(object a, object b)
{
    object::iterator ia = a.begin();
    object::iterator ib = b.begin();

    for (; ia != a.end() && ib != b.end(); ++ia, ++ib) {
        if (ia.key() != ib.key()) {
            return json_object_within(a, b) && json_object_within(b, a);
        }
        if (!tw_json_equal(json_wrap(ia.value()), json_wrap(ib.value()))) {
            return false;
        }
    }
    return ia == a.end() && ib == b.end();
}

bool json_array_equal(array a, array b)
{
    array::iterator ia = a.begin();
    array::iterator ib = b.begin();

    for (; ia != a.end() && ib != b.end(); ++ia, ++ib) {
        if (!tw_json_equal(json_wrap(*ia), json_wrap(*ib))) {
            return false;
        }
    }
    return ia == a.end() && ib == b.end();
}

/*
 * Integers compare exactly; a double compares with an integer through
 * long double, whose 64-bit mantissa holds any int64 or uint64 exactly.
 */
bool json_number_equal(struct tw_json a, struct tw_json b)
{
    enum tw_json_type ta = tw_json_type(a);
    enum tw_json_type tb = tw_json_type(b);

    if (ta == TW_JSON_INT && tb == TW_JSON_INT) {
        return tw_json_int(a) == tw_json_int(b);
    }
    if (ta == TW_JSON_UINT && tb == TW_JSON_UINT) {
        return tw_json_uint(a) == tw_json_uint(b);
    }
    if (ta == TW_JSON_DOUBLE && tb == TW_JSON_DOUBLE) {
        return tw_json_number(a) == tw_json_number(b);
    }
    if (ta != TW_JSON_DOUBLE && tb != TW_JSON_DOUBLE) {
        return false; /* one INT, one UINT: the ranges do not overlap */
    }

    auto exact = [](struct tw_json v) -> long double {
        switch (tw_json_type(v)) {
        case TW_JSON_INT:
            return (long double)tw_json_int(v);
        case TW_JSON_UINT:
            return (long double)tw_json_uint(v);
        default:
            return (long double)tw_json_number(v);
        }
    };
    return exact(a) == exact(b);
}

bool json_is_number(enum tw_json_type t)
{
    return t == TW_JSON_INT || t == TW_JSON_UINT || t == TW_JSON_DOUBLE;
}

} // namespace

/*
 * simdjson sizes its buffers for at least MINIMAL_DOCUMENT_CAPACITY bytes
 * and refuses a parser whose ceiling is below that, so the ceiling given
 * to simdjson is at least that; max_bytes is checked here.
 */
struct tw_json_parser {
    simdjson::dom::parser dom;
    size_t max_bytes;
    uint32_t max_depth;

    tw_json_parser(size_t bytes, uint32_t depth)
        : dom(std::max(bytes, simdjson::dom::MINIMAL_DOCUMENT_CAPACITY)),
          max_bytes(bytes), max_depth(depth)
    {
    }
};

extern "C" {

int tw_json_parser_new(size_t max_bytes, uint32_t max_depth,
                       struct tw_json_parser **out)
{
    struct tw_json_parser *parser;
    simdjson::error_code err;

    *out = nullptr;
    if (max_depth == 0) {
        max_depth = TW_JSON_DEPTH_DEFAULT;
    }
    parser = new (std::nothrow) tw_json_parser(max_bytes, max_depth);
    if (parser == nullptr) {
        return tw_err_set(TW_ENOMEM, "out of memory creating a JSON parser");
    }

    /*
     * The depth is fixed by allocating the parser's structures once; a
     * later parse that needs more capacity keeps it. simdjson counts the
     * root document as a level, hence the one added.
     */
    err = parser->dom.allocate(simdjson::dom::MINIMAL_DOCUMENT_CAPACITY,
                               (size_t)max_depth + 1);
    if (err != simdjson::SUCCESS) {
        delete parser;
        return tw_err_set(TW_ENOMEM, "out of memory creating a JSON parser");
    }
    *out = parser;
    return 0;
}

void tw_json_parser_free(struct tw_json_parser *parser)
{
    delete parser;
}

int tw_json_parse(struct tw_json_parser *parser, const char *buf, size_t len,
                  struct tw_json *root)
{
    element e;
    simdjson::error_code err;

    if (len > parser->max_bytes) {
        return tw_err_set(TW_EFULL,
                          "the document is %zu bytes, more than the %zu "
                          "this parser accepts",
                          len, parser->max_bytes);
    }

    /*
     * simdjson reads up to SIMDJSON_PADDING bytes past the end; asking it
     * to copy the input into its own padded buffer (reused from parse to
     * parse) makes any caller's buffer safe.
     */
    err = parser->dom.parse(buf, len, true).get(e);
    if (err != simdjson::SUCCESS) {
        return json_parse_error(err, parser->max_depth);
    }
    *root = json_wrap(e);
    return 0;
}

enum tw_json_type tw_json_type(struct tw_json value)
{
    switch (json_unwrap(value).type()) {
    case element_type::NULL_VALUE:
        return TW_JSON_NULL;
    case element_type::BOOL:
        return TW_JSON_BOOL;
    case element_type::INT64:
        return TW_JSON_INT;
    case element_type::UINT64:
        return TW_JSON_UINT;
    case element_type::DOUBLE:
        return TW_JSON_DOUBLE;
    case element_type::STRING:
        return TW_JSON_STRING;
    case element_type::ARRAY:
        return TW_JSON_ARRAY;
    case element_type::OBJECT:
        return TW_JSON_OBJECT;
    }
    assert(!"json.h: a simdjson element of unknown type");
    return TW_JSON_NULL;
}

const char *tw_json_type_name(enum tw_json_type type)
{
    switch (type) {
    case TW_JSON_NULL:
        return "null";
    case TW_JSON_BOOL:
        return "boolean";
    case TW_JSON_INT:
    case TW_JSON_UINT:
        return "integer";
    case TW_JSON_DOUBLE:
        return "number";
    case TW_JSON_STRING:
        return "string";
    case TW_JSON_ARRAY:
        return "array";
    case TW_JSON_OBJECT:
        return "object";
    }
    return "unknown";
}

bool tw_json_bool(struct tw_json value)
{
    return json_get<bool>(value);
}

int64_t tw_json_int(struct tw_json value)
{
    return json_get<int64_t>(value);
}

uint64_t tw_json_uint(struct tw_json value)
{
    return json_get<uint64_t>(value);
}

double tw_json_number(struct tw_json value)
{
    switch (tw_json_type(value)) {
    case TW_JSON_INT:
        return (double)tw_json_int(value);
    case TW_JSON_UINT:
        return (double)tw_json_uint(value);
    default:
        return json_get<double>(value);
    }
}

bool tw_json_is_integral(struct tw_json value)
{
    switch (tw_json_type(value)) {
    case TW_JSON_INT:
    case TW_JSON_UINT:
        return true;
    case TW_JSON_DOUBLE: {
        double d = json_get<double>(value);

        return std::isfinite(d) && d == std::floor(d);
    }
    default:
        return false;
    }
}

const char *tw_json_string(struct tw_json value, size_t *len)
{
    std::string_view s = json_get<std::string_view>(value);

    /* simdjson ends every string of its string buffer with a NUL. */
    *len = s.size();
    return s.data();
}

size_t tw_json_count(struct tw_json value)
{
    element e = json_unwrap(value);
    size_t n;

    if (e.type() == element_type::ARRAY) {
        array a = json_get<array>(value);

        n = a.size();
        if (n == json_count_saturated) {
            n = 0;
            for (array::iterator it = a.begin(); it != a.end(); ++it) {
                n++;
            }
        }
        return n;
    }
    object o = json_get<object>(value);

    n = o.size();
    if (n == json_count_saturated) {
        n = 0;
        for (object::iterator it = o.begin(); it != o.end(); ++it) {
            n++;
        }
    }
    return n;
}

void tw_json_iter_init(struct tw_json_iter *it, struct tw_json container)
{
    std::memset(it, 0, sizeof(*it));
    if (json_unwrap(container).type() == element_type::ARRAY) {
        array a = json_get<array>(container);
        json_array_pos pos = {a.begin(), a.end()};

        std::memcpy(it->opaque, static_cast<const void *>(&pos), sizeof(pos));
        return;
    }
    object o = json_get<object>(container);
    json_object_pos pos = {o.begin(), o.end()};

    std::memcpy(it->opaque, static_cast<const void *>(&pos), sizeof(pos));
}

bool tw_json_array_next(struct tw_json_iter *it, struct tw_json *element_out)
{
    json_array_pos pos;

    std::memcpy(static_cast<void *>(&pos), it->opaque, sizeof(pos));
    if (pos.at == pos.end) {
        return false;
    }
    *element_out = json_wrap(*pos.at);
    ++pos.at;
    std::memcpy(it->opaque, static_cast<const void *>(&pos), sizeof(pos));
    return true;
}

bool tw_json_object_next(struct tw_json_iter *it, const char **key,
                         size_t *key_len, struct tw_json *value)
{
    json_object_pos pos;

    std::memcpy(static_cast<void *>(&pos), it->opaque, sizeof(pos));
    if (pos.at == pos.end) {
        return false;
    }
    *key = pos.at.key_c_str();
    *key_len = pos.at.key_length();
    *value = json_wrap(pos.at.value());
    ++pos.at;
    std::memcpy(it->opaque, static_cast<const void *>(&pos), sizeof(pos));
    return true;
}

/*
 * simdjson's tape holds a member's name as a string entry right before
 * its value, and an object iterator is a reference to that entry, laid
 * out as an element is (a document and a tape index). Read as an element,
 * it is the name as a string value.
 */
static_assert(sizeof(object::iterator) == sizeof(element),
              "an object iterator is a tape reference, as an element is");

bool tw_json_object_next_entry(struct tw_json_iter *it, struct tw_json *key,
                               struct tw_json *value)
{
    json_object_pos pos;
    element name;

    std::memcpy(static_cast<void *>(&pos), it->opaque, sizeof(pos));
    if (pos.at == pos.end) {
        return false;
    }
    std::memcpy(static_cast<void *>(&name), static_cast<const void *>(&pos.at),
                sizeof(name));
    assert(name.type() == element_type::STRING);
    *key = json_wrap(name);
    *value = json_wrap(pos.at.value());
    ++pos.at;
    std::memcpy(it->opaque, static_cast<const void *>(&pos), sizeof(pos));
    return true;
}

bool tw_json_object_get(struct tw_json obj, const char *key, size_t key_len,
                        struct tw_json *value)
{
    element found;

    if (json_get<object>(obj)
            .at_key(std::string_view(key, key_len))
            .get(found) != simdjson::SUCCESS) {
        return false;
    }
    *value = json_wrap(found);
    return true;
}

bool tw_json_utf8_valid(const char *text, size_t len)
{
    return simdjson::validate_utf8(text, len);
}

bool tw_json_get(struct tw_json obj, const char *key, struct tw_json *value)
{
    return tw_json_object_get(obj, key, std::strlen(key), value);
}

bool tw_json_equal(struct tw_json a, struct tw_json b)
{
    enum tw_json_type ta = tw_json_type(a);
    enum tw_json_type tb = tw_json_type(b);

    if (json_is_number(ta) && json_is_number(tb)) {
        return json_number_equal(a, b);
    }
    if (ta != tb) {
        return false;
    }
    switch (ta) {
    case TW_JSON_NULL:
        return true;
    case TW_JSON_BOOL:
        return tw_json_bool(a) == tw_json_bool(b);
    case TW_JSON_STRING:
        return json_get<std::string_view>(a) == json_get<std::string_view>(b);
    case TW_JSON_ARRAY:
        return json_array_equal(json_get<array>(a), json_get<array>(b));
    case TW_JSON_OBJECT:
        return tw_json_count(a) == tw_json_count(b) &&
               json_object_equal(json_get<object>(a), json_get<object>(b));
    default:
        return false;
    }
}

} /* extern "C" */
