//! Argument types that turn hostile SQL values into chosen errors instead of panics (XX000).
//!
//! pgrx's own `JsonB` prints the `jsonb` and parses the text, and panics when it does not fit a
//! `serde_json::Value` (nesting deeper than 127 levels, a number beyond a double such as 1e400);
//! its `&str` panics on text that is not UTF-8 (possible in a SQL_ASCII or LATIN1 database). These
//! wrappers read the same SQL types — the generated SQL is unchanged — and raise:
//! - 54000 for a `jsonb` over [`MAX_JSON_BYTES`] (checked before it is detoasted), nested deeper than
//!   [`MAX_JSON_DEPTH`] or with more than [`MAX_JSON_VALUES`] values, so that reading a document
//!   costs at most about its own size;
//! - 22003 for a JSON number a double cannot hold;
//! - 22021 for text that is not UTF-8;
//! - 22023 for a `bytea[]` of more than one dimension (proofs and leaves are lists).
use crate::error::{raise, INVALID_PARAMETER, LIMIT_EXCEEDED};
use pgrx::callconv::{Arg, ArgAbi};
use pgrx::nullable::Nullable;
use pgrx::datum::Array;
use pgrx::{impl_sql_translatable, pg_sys, FromDatum, PgSqlErrorCode};
use rekor_meta_core::json::{JsonTextError, Value, ValueBuilder, MAX_JSON_BYTES, MAX_JSON_DEPTH, MAX_JSON_VALUES};
use std::ffi::CStr;

/// A `jsonb` argument read into a `serde_json::Value`.
pub struct Jsonb(pub Value);

/// A `text` argument that is valid UTF-8.
pub struct Text<'a>(pub &'a str);

impl std::ops::Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        self.0
    }
}

impl_sql_translatable!(Jsonb, arg_only = "jsonb");
impl_sql_translatable!(Text<'_>, arg_only = "TEXT");
impl_sql_translatable!(ByteaArray<'_>, arg_only = "bytea[]");
impl_sql_translatable!(JsonbArray<'_>, arg_only = "jsonb[]");

/// A one-dimensional `bytea[]` argument (any lower bound; NULL elements are the caller's to refuse).
pub struct ByteaArray<'a>(pub Array<'a, &'a [u8]>);

/// A one-dimensional `jsonb[]` argument of at most [`MAX_JSONB_ARRAY_ITEMS`] elements, read element
/// by element ([`JsonbArray::get`]: each one with the limits of [`Jsonb`]).
pub struct JsonbArray<'a> {
    values: &'a [pg_sys::Datum],
    nulls: &'a [bool],
}

/// The most elements a `jsonb[]` argument may have (rekor_enqueue_batch's limit).
pub const MAX_JSONB_ARRAY_ITEMS: usize = 10_000;

impl JsonbArray<'_> {
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Element `i` (0-based), or None when it is NULL.
    pub fn get(&self, i: usize) -> Option<Jsonb> {
        let (&datum, &is_null) = (self.values.get(i)?, self.nulls.get(i)?);
        // SAFETY: a jsonb datum of the detoasted array, alive for the call (see from_polymorphic_datum).
        unsafe { Jsonb::from_polymorphic_datum(datum, is_null, pg_sys::JSONBOID) }
    }
}

fn raise_json(err: &JsonTextError) -> ! {
    let code = match err {
        JsonTextError::TooLarge { .. } | JsonTextError::TooDeep { .. } | JsonTextError::TooManyValues { .. } => {
            LIMIT_EXCEEDED
        }
        JsonTextError::NumberOutOfRange { .. } => PgSqlErrorCode::ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
        JsonTextError::InvalidUtf8 { .. } => PgSqlErrorCode::ERRCODE_CHARACTER_NOT_IN_REPERTOIRE,
        JsonTextError::Invalid { .. } => PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
    };
    raise(
        code,
        format!("jsonb argument not accepted: {err}"),
        format!("a jsonb document is read up to {MAX_JSON_BYTES} bytes, {MAX_JSON_DEPTH} levels of nesting and {MAX_JSON_VALUES} values"),
    )
}

impl FromDatum for Jsonb {
    unsafe fn from_polymorphic_datum(datum: pg_sys::Datum, is_null: bool, _: pg_sys::Oid) -> Option<Jsonb> {
        if is_null || datum.is_null() {
            return None;
        }
        unsafe {
            // The size before detoasting: an oversized document is refused before any copy is made.
            let stored = pg_sys::toast_raw_datum_size(datum);
            if stored > MAX_JSON_BYTES {
                raise_json(&JsonTextError::TooLarge { got: stored, limit: MAX_JSON_BYTES });
            }
            let varlena = datum.cast_mut_ptr::<pg_sys::varlena>();
            let detoasted = pg_sys::pg_detoast_datum(varlena);
            let value = jsonb_to_value(detoasted.cast::<pg_sys::Jsonb>());
            if detoasted != varlena {
                pg_sys::pfree(detoasted.cast());
            }
            match value {
                Ok(v) => Some(Jsonb(v)),
                Err(e) => raise_json(&e),
            }
        }
    }
}

/// Walks a detoasted jsonb with PostgreSQL's iterator into a Value: no text is printed, and
/// the builder stops at the first limit passed.
unsafe fn jsonb_to_value(jb: *mut pg_sys::Jsonb) -> Result<Value, JsonTextError> {
    use pg_sys::JsonbIteratorToken::*;
    let mut b = ValueBuilder::new();
    unsafe {
        let mut it = pg_sys::JsonbIteratorInit(std::ptr::addr_of_mut!((*jb).root));
        let mut v: pg_sys::JsonbValue = std::mem::zeroed();
        loop {
            match pg_sys::JsonbIteratorNext(&mut it, &mut v, false) {
                WJB_DONE => break,
                WJB_BEGIN_ARRAY => b.begin_array(v.val.array.rawScalar)?,
                WJB_BEGIN_OBJECT => b.begin_object()?,
                WJB_END_ARRAY | WJB_END_OBJECT => b.end()?,
                WJB_KEY => b.key(string_bytes(&v)?)?,
                WJB_VALUE | WJB_ELEM => scalar(&mut b, &v)?,
                other => return Err(JsonTextError::Invalid { message: format!("unexpected jsonb iterator token {other}") }),
            }
        }
    }
    b.finish()
}

unsafe fn string_bytes(v: &pg_sys::JsonbValue) -> Result<&[u8], JsonTextError> {
    if v.type_ != pg_sys::jbvType::jbvString {
        return Err(JsonTextError::Invalid { message: format!("a jsonb key of type {}", v.type_) });
    }
    unsafe {
        let s = v.val.string;
        let len = usize::try_from(s.len).unwrap_or(0);
        if len == 0 {
            return Ok(&[]);
        }
        Ok(std::slice::from_raw_parts(s.val.cast::<u8>(), len))
    }
}

unsafe fn scalar(b: &mut ValueBuilder, v: &pg_sys::JsonbValue) -> Result<(), JsonTextError> {
    unsafe {
        match v.type_ {
            pg_sys::jbvType::jbvNull => b.scalar(Value::Null),
            pg_sys::jbvType::jbvBool => b.scalar(Value::Bool(v.val.boolean)),
            pg_sys::jbvType::jbvString => b.string(string_bytes(v)?),
            pg_sys::jbvType::jbvNumeric => {
                let text = pgrx::direct_function_call::<&CStr>(pg_sys::numeric_out, &[Some(pg_sys::Datum::from(v.val.numeric))])
                    .ok_or_else(|| JsonTextError::Invalid { message: "numeric_out returned NULL".into() })?;
                let r = match text.to_str() {
                    Ok(t) => b.number(t),
                    Err(_) => Err(JsonTextError::Invalid { message: "a numeric printed as non-ASCII".into() }),
                };
                pg_sys::pfree(text.as_ptr() as *mut std::ffi::c_void);
                r
            }
            other => Err(JsonTextError::Invalid { message: format!("a jsonb scalar of type {other}") }),
        }
    }
}

impl<'a> FromDatum for Text<'a> {
    unsafe fn from_polymorphic_datum(datum: pg_sys::Datum, is_null: bool, _: pg_sys::Oid) -> Option<Text<'a>> {
        if is_null || datum.is_null() {
            return None;
        }
        unsafe {
            let varlena = pg_sys::pg_detoast_datum_packed(datum.cast_mut_ptr());
            let bytes: &'a [u8] = pgrx::varlena_to_byte_slice(varlena);
            match std::str::from_utf8(bytes) {
                Ok(s) => Some(Text(s)),
                Err(e) => raise(
                    PgSqlErrorCode::ERRCODE_CHARACTER_NOT_IN_REPERTOIRE,
                    "text argument is not valid UTF-8",
                    format!("invalid byte after {} valid bytes; rekor_meta reads text as UTF-8", e.valid_up_to()),
                ),
            }
        }
    }
}

/// The detoasted array of a non-NULL array datum; 22023 when it has more than one dimension.
///
/// # Safety
/// `datum` must be a non-NULL datum of an array type.
unsafe fn one_dimensional(datum: pg_sys::Datum, what: &str) -> std::ptr::NonNull<pg_sys::ArrayType> {
    unsafe {
        let arr = pg_sys::pg_detoast_datum(datum.cast_mut_ptr()).cast::<pg_sys::ArrayType>();
        let Some(nn) = std::ptr::NonNull::new(arr) else {
            raise(INVALID_PARAMETER, "not an array", String::new())
        };
        let ndim = (*arr).ndim;
        if ndim > 1 {
            raise(INVALID_PARAMETER, "array must be one-dimensional", format!("the {what} argument has {ndim} dimensions"));
        }
        nn
    }
}

impl<'a> FromDatum for ByteaArray<'a> {
    unsafe fn from_polymorphic_datum(datum: pg_sys::Datum, is_null: bool, typoid: pg_sys::Oid) -> Option<ByteaArray<'a>> {
        if is_null || datum.is_null() {
            return None;
        }
        unsafe {
            // Detoasted once here; Array's own detoast of the result then copies nothing.
            let arr = one_dimensional(datum, "bytea[]");
            Array::<&[u8]>::from_polymorphic_datum(pg_sys::Datum::from(arr.as_ptr()), false, typoid).map(ByteaArray)
        }
    }
}

impl<'a> FromDatum for JsonbArray<'a> {
    unsafe fn from_polymorphic_datum(datum: pg_sys::Datum, is_null: bool, _: pg_sys::Oid) -> Option<JsonbArray<'a>> {
        if is_null || datum.is_null() {
            return None;
        }
        unsafe {
            // Detoasted (or flattened, when expanded) into the call's memory context: the element
            // datums point into it for the rest of the call.
            let nn = one_dimensional(datum, "jsonb[]");
            let arr = nn.as_ptr();
            // The element count from the header, before anything is unpacked.
            let items = pgrx::array::RawArray::from_ptr(nn).len();
            if items > MAX_JSONB_ARRAY_ITEMS {
                raise(
                    LIMIT_EXCEEDED,
                    "jsonb[] argument too large",
                    format!("{items} elements; at most {MAX_JSONB_ARRAY_ITEMS}"),
                );
            }
            let mut values: *mut pg_sys::Datum = std::ptr::null_mut();
            let mut nulls: *mut bool = std::ptr::null_mut();
            let mut n: i32 = 0;
            pg_sys::deconstruct_array(arr, pg_sys::JSONBOID, -1, false, pg_sys::TYPALIGN_INT as std::ffi::c_char,
                                      &mut values, &mut nulls, &mut n);
            // Both palloc'd in the call's memory context, like the array they point into.
            let n = usize::try_from(n).unwrap_or(0);
            if n == 0 || values.is_null() || nulls.is_null() {
                return Some(JsonbArray { values: &[], nulls: &[] });
            }
            Some(JsonbArray { values: std::slice::from_raw_parts(values, n), nulls: std::slice::from_raw_parts(nulls, n) })
        }
    }
}

macro_rules! arg_from_datum {
    ($ty:ty) => {
        unsafe impl<'fcx> ArgAbi<'fcx> for $ty {
            unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
                let index = arg.index();
                // pgrx calls this only for non-NULL arguments (the functions are STRICT); should that ever
                // change, the caller gets a 22023, not a panic (XX000).
                unsafe {
                    arg.unbox_arg_using_from_datum().unwrap_or_else(|| {
                        crate::error::raise(
                            crate::error::INVALID_PARAMETER,
                            format!("argument {index} must not be NULL"),
                            String::new(),
                        )
                    })
                }
            }

            unsafe fn unbox_nullable_arg(arg: Arg<'_, 'fcx>) -> Nullable<Self> {
                unsafe { arg.unbox_arg_using_from_datum().into() }
            }
        }
    };
}

arg_from_datum!(Jsonb);
arg_from_datum!(Text<'fcx>);
arg_from_datum!(ByteaArray<'fcx>);
arg_from_datum!(JsonbArray<'fcx>);
