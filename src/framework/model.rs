//! Typed models: Rust structs that mirror a schema, so resources never read or write an
//! attribute by its name.
//!
//! A resource declares its state with the [`model!`](crate::model) macro:
//!
//! ```ignore
//! model! {
//!     /// State of `zae_limiter_limit`.
//!     pub struct LimitModel, config LimitConfig, names LimitNames {
//!         /// Required: always known in a planned or stored state.
//!         pub stack: String,
//!         /// Optional: null is `None`.
//!         pub resource: Option<String>,
//!         /// Computed: null, unknown (while planning) or known.
//!         pub capacity: Known<i64>,
//!     }
//! }
//! ```
//!
//! The macro writes the struct, its [`FromValue`] / [`ToValue`] conversions (every failure
//! names the attribute path), and a second struct, the *configuration view*
//! (`LimitConfig`), with the same fields each wrapped in [`Known`]: configuration and plans
//! may hold unknown values anywhere, states may not. `LimitModel::NAMES.capacity` is the
//! attribute's name for diagnostic paths, spelt by the compiler. [`check_agreement`] proves in a unit
//! test that a model and its schema name the same attributes with the same types.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;

use super::diag::Diagnostics;
use super::path::AttributePath;
use super::schema::Block;
use super::types::Type;
use super::value::Value;

/// A value that may be null or not yet known: computed attributes in a plan, and every
/// attribute of a configuration view.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Known<T> {
    /// Null: not set.
    #[default]
    Null,
    /// Not known until apply. A collection with an unknown element counts as unknown.
    Unknown,
    /// A known value.
    Value(T),
}

impl<T> Known<T> {
    /// The value, when known.
    pub fn value(&self) -> Option<&T> {
        match self {
            Known::Value(v) => Some(v),
            _ => None,
        }
    }

    /// The value, when known, by value.
    pub fn into_value(self) -> Option<T> {
        match self {
            Known::Value(v) => Some(v),
            _ => None,
        }
    }

    /// Whether this is null.
    pub fn is_null(&self) -> bool {
        matches!(self, Known::Null)
    }

    /// Whether this is unknown.
    pub fn is_unknown(&self) -> bool {
        matches!(self, Known::Unknown)
    }

    /// Whether this is set in configuration: known or unknown, but not null.
    pub fn is_set(&self) -> bool {
        !self.is_null()
    }

    /// Unknown becomes null (what a state must hold once an operation is over).
    pub fn settled(self) -> Known<T> {
        match self {
            Known::Unknown => Known::Null,
            other => other,
        }
    }

    /// Applies `f` to a known value.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Known<U> {
        match self {
            Known::Null => Known::Null,
            Known::Unknown => Known::Unknown,
            Known::Value(v) => Known::Value(f(v)),
        }
    }

    /// A borrowed view of the value.
    pub fn as_ref(&self) -> Known<&T> {
        match self {
            Known::Null => Known::Null,
            Known::Unknown => Known::Unknown,
            Known::Value(v) => Known::Value(v),
        }
    }
}

impl Known<String> {
    /// The known string.
    pub fn as_str(&self) -> Option<&str> {
        self.value().map(String::as_str)
    }
}

impl<T> From<Option<T>> for Known<T> {
    fn from(value: Option<T>) -> Known<T> {
        value.map_or(Known::Null, Known::Value)
    }
}

impl<T> From<T> for Known<T> {
    fn from(value: T) -> Known<T> {
        Known::Value(value)
    }
}

/// Decoding of a Terraform value into a Rust value; every error names `path`.
pub trait FromValue: Sized {
    /// Decodes `value`, found at `path`.
    fn from_value(value: &Value, path: &AttributePath) -> Result<Self, Diagnostics>;
}

/// Encoding of a Rust value as a Terraform value.
pub trait ToValue {
    /// The Terraform value.
    fn to_value(&self) -> Value;
}

/// A type that can be the type of a model field. `Config` is how the field appears in the
/// model's configuration view: the base type wrapped in [`Known`].
pub trait Field: FromValue + ToValue {
    /// The field's type in a configuration view.
    type Config: FromValue + ToValue + Debug + Clone + PartialEq + Default + Send + Sync + 'static;
}

/// A struct mirroring a schema block, written by [`model!`](crate::model).
pub trait Model: Field + Debug + Clone + PartialEq + Default + Send + Sync + 'static {
    /// The configuration view: the same attributes, each null, unknown or known.
    type ConfigView: Model;

    /// The attribute (and nested block) names, in declaration order.
    const ATTRIBUTES: &'static [&'static str];

    /// Decodes a whole state or plan (the root of the path).
    fn decode(value: &Value) -> Result<Self, Diagnostics> {
        Self::from_value(value, &AttributePath::empty())
    }
}

/// The configuration view of a model.
pub type ConfigOf<M> = <M as Model>::ConfigView;

/// The attribute path of a field of the object at `parent`.
pub fn field_path(parent: &AttributePath, name: &str) -> AttributePath {
    if parent.steps().is_empty() {
        AttributePath::root(name)
    } else {
        parent.clone().attribute(name)
    }
}

/// Decodes one field of an object, adding any error to `diags`.
pub fn decode_field<T: FromValue>(
    object: &BTreeMap<String, Value>,
    name: &str,
    parent: &AttributePath,
    diags: &mut Diagnostics,
) -> Option<T> {
    static NULL: Value = Value::Null;
    let value = object.get(name).unwrap_or(&NULL);
    T::from_value(value, &field_path(parent, name))
        .map_err(|d| diags.extend(d))
        .ok()
}

/// The attributes of an object value, or an error at `path`.
pub fn expect_object<'a>(value: &'a Value, path: &AttributePath) -> Result<&'a BTreeMap<String, Value>, Diagnostics> {
    match value {
        Value::Object(m) => Ok(m),
        other => Err(mismatch(path, "an object", other)),
    }
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Unknown(_) => "an unknown value",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::List(_) => "a list",
        Value::Set(_) => "a set",
        Value::Map(_) => "a map",
        Value::Object(_) => "an object",
    }
}

fn mismatch(path: &AttributePath, expected: &str, got: &Value) -> Diagnostics {
    let mut d = Diagnostics::new();
    let (summary, detail) = match got {
        Value::Null => (
            "Missing value",
            format!("{path} must be set here, but it is null. This is a bug in the provider or a damaged state."),
        ),
        Value::Unknown(_) => (
            "Value not yet known",
            format!("{path} must be known here, but Terraform will only know it after apply."),
        ),
        other => (
            "Unexpected value type",
            format!("{path} must be {expected}, but it is {}.", describe(other)),
        ),
    };
    if path.steps().is_empty() {
        d.error(summary, detail);
    } else {
        d.attribute_error(path.clone(), summary, detail);
    }
    d
}

impl FromValue for String {
    fn from_value(value: &Value, path: &AttributePath) -> Result<String, Diagnostics> {
        value
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| mismatch(path, "a string", value))
    }
}

impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::String(self.clone())
    }
}

impl FromValue for i64 {
    fn from_value(value: &Value, path: &AttributePath) -> Result<i64, Diagnostics> {
        match value {
            Value::Number(n) => n.as_i64().ok_or_else(|| {
                let mut d = Diagnostics::new();
                d.attribute_error(
                    path.clone(),
                    "Whole number required",
                    format!("{path} must be a whole number, got {n}."),
                );
                d
            }),
            other => Err(mismatch(path, "a number", other)),
        }
    }
}

impl ToValue for i64 {
    fn to_value(&self) -> Value {
        Value::int(*self)
    }
}

impl FromValue for bool {
    fn from_value(value: &Value, path: &AttributePath) -> Result<bool, Diagnostics> {
        value.as_bool().ok_or_else(|| mismatch(path, "a bool", value))
    }
}

impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Bool(*self)
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: &Value, path: &AttributePath) -> Result<Option<T>, Diagnostics> {
        match value {
            Value::Null => Ok(None),
            other => T::from_value(other, path).map(Some),
        }
    }
}

impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToValue::to_value)
    }
}

impl<T: FromValue> FromValue for Known<T> {
    fn from_value(value: &Value, path: &AttributePath) -> Result<Known<T>, Diagnostics> {
        match value {
            Value::Null => Ok(Known::Null),
            Value::Unknown(_) => Ok(Known::Unknown),
            // Objects decode field by field (their fields handle their own unknowns);
            // other collections with an unknown element are unknown as a whole.
            Value::List(_) | Value::Set(_) | Value::Map(_) if !value.is_fully_known() => Ok(Known::Unknown),
            other => T::from_value(other, path).map(Known::Value),
        }
    }
}

impl<T: ToValue> ToValue for Known<T> {
    fn to_value(&self) -> Value {
        match self {
            Known::Null => Value::Null,
            Known::Unknown => Value::unknown(),
            Known::Value(v) => v.to_value(),
        }
    }
}

impl<T: FromValue> FromValue for BTreeMap<String, T> {
    fn from_value(value: &Value, path: &AttributePath) -> Result<BTreeMap<String, T>, Diagnostics> {
        let entries = match value {
            Value::Map(m) | Value::Object(m) => m,
            other => return Err(mismatch(path, "a map", other)),
        };
        let mut diags = Diagnostics::new();
        let mut out = BTreeMap::new();
        for (key, element) in entries {
            match T::from_value(element, &path.clone().key(key)) {
                Ok(v) => {
                    out.insert(key.clone(), v);
                }
                Err(d) => diags.extend(d),
            }
        }
        if diags.has_errors() { Err(diags) } else { Ok(out) }
    }
}

impl<T: ToValue> ToValue for BTreeMap<String, T> {
    fn to_value(&self) -> Value {
        Value::Map(self.iter().map(|(k, v)| (k.clone(), v.to_value())).collect())
    }
}

fn decode_elements<T: FromValue>(value: &Value, path: &AttributePath, expected: &str) -> Result<Vec<T>, Diagnostics> {
    let elements = match value {
        Value::List(v) | Value::Set(v) => v,
        other => return Err(mismatch(path, expected, other)),
    };
    let mut diags = Diagnostics::new();
    let mut out = Vec::with_capacity(elements.len());
    for (i, element) in elements.iter().enumerate() {
        let index = i64::try_from(i).unwrap_or(i64::MAX);
        match T::from_value(element, &path.clone().index(index)) {
            Ok(v) => out.push(v),
            Err(d) => diags.extend(d),
        }
    }
    if diags.has_errors() { Err(diags) } else { Ok(out) }
}

impl<T: FromValue + Ord> FromValue for BTreeSet<T> {
    fn from_value(value: &Value, path: &AttributePath) -> Result<BTreeSet<T>, Diagnostics> {
        decode_elements(value, path, "a set").map(|v| v.into_iter().collect())
    }
}

impl<T: ToValue> ToValue for BTreeSet<T> {
    fn to_value(&self) -> Value {
        Value::Set(self.iter().map(ToValue::to_value).collect())
    }
}

impl<T: FromValue> FromValue for Vec<T> {
    fn from_value(value: &Value, path: &AttributePath) -> Result<Vec<T>, Diagnostics> {
        decode_elements(value, path, "a list")
    }
}

impl<T: ToValue> ToValue for Vec<T> {
    fn to_value(&self) -> Value {
        Value::List(self.iter().map(ToValue::to_value).collect())
    }
}

/// Scalars and collections appear in a configuration view as `Known<Self>`.
macro_rules! known_in_config {
    ($($ty:ty),* $(,)?) => {
        $(impl Field for $ty {
            type Config = Known<$ty>;
        })*
    };
}

known_in_config!(String, i64, bool);

impl<T: Field + Debug + Clone + PartialEq + Send + Sync + 'static> Field for BTreeMap<String, T> {
    type Config = Known<BTreeMap<String, T>>;
}

impl<T: Field + Ord + Debug + Clone + Send + Sync + 'static> Field for BTreeSet<T> {
    type Config = Known<BTreeSet<T>>;
}

impl<T: Field + Debug + Clone + PartialEq + Send + Sync + 'static> Field for Vec<T> {
    type Config = Known<Vec<T>>;
}

impl<T: Field> Field for Option<T> {
    type Config = T::Config;
}

impl<T: Field> Field for Known<T> {
    type Config = T::Config;
}

/// Declares a model struct (see the [module documentation](self)): the struct, its
/// configuration view, and their conversions from and to [`Value`].
#[macro_export]
macro_rules! model {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident, config $config:ident, names $names:ident {
            $(
                $(#[$field_meta:meta])*
                $field_vis:vis $field:ident : $ty:ty
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Default)]
        $vis struct $name {
            $($(#[$field_meta])* $field_vis $field: $ty,)*
        }

        #[doc = concat!(
            "The configuration view of [`", stringify!($name), "`]: ",
            "every attribute may be null or unknown."
        )]
        #[derive(Debug, Clone, PartialEq, Default)]
        $vis struct $config {
            $($(#[$field_meta])* $field_vis $field: <$ty as $crate::framework::model::Field>::Config,)*
        }

        #[doc = concat!(
            "The attribute names of [`", stringify!($name), "`], for diagnostics: `",
            stringify!($name), "::NAMES.field`."
        )]
        #[derive(Debug, Clone, Copy)]
        #[allow(dead_code)]
        $vis struct $names {
            $($(#[$field_meta])* $field_vis $field: &'static str,)*
        }

        #[allow(dead_code)]
        impl $name {
            /// Each attribute's name, checked by the compiler.
            $vis const NAMES: $names = $names { $($field: stringify!($field),)* };
        }

        $crate::model!(@conversions $name { $($field),* });
        $crate::model!(@conversions $config { $($field),* });

        impl $crate::framework::model::Field for $name {
            type Config = $crate::framework::model::Known<$config>;
        }

        impl $crate::framework::model::Field for $config {
            type Config = $crate::framework::model::Known<$config>;
        }

        impl $crate::framework::model::Model for $name {
            type ConfigView = $config;
            const ATTRIBUTES: &'static [&'static str] = &[$(stringify!($field)),*];
        }

        impl $crate::framework::model::Model for $config {
            type ConfigView = $config;
            const ATTRIBUTES: &'static [&'static str] = &[$(stringify!($field)),*];
        }
    };

    (@conversions $name:ident { $($field:ident),* }) => {
        impl $crate::framework::model::FromValue for $name {
            fn from_value(
                value: &$crate::framework::Value,
                path: &$crate::framework::AttributePath,
            ) -> Result<Self, $crate::framework::Diagnostics> {
                let object = $crate::framework::model::expect_object(value, path)?;
                let mut diags = $crate::framework::Diagnostics::new();
                $(
                    let $field = $crate::framework::model::decode_field(object, stringify!($field), path, &mut diags);
                )*
                match ($($field,)*) {
                    ($(Some($field),)*) => Ok($name { $($field),* }),
                    _ => Err(diags),
                }
            }
        }

        impl $crate::framework::model::ToValue for $name {
            fn to_value(&self) -> $crate::framework::Value {
                $crate::framework::Value::Object(::std::collections::BTreeMap::from([
                    $((stringify!($field).to_string(), $crate::framework::model::ToValue::to_value(&self.$field)),)*
                ]))
            }
        }
    };
}

/// A required attribute must decode into a type that refuses null (not an `Option`); an
/// optional one that the provider does not compute must accept null.
fn check_nullability<M: Model>(block: &Block, sample: &Value) -> Result<(), String> {
    for attribute in &block.attributes {
        let mut with_null = sample.clone();
        with_null.set(&attribute.name, Value::Null);
        let decoded = M::decode(&with_null);
        if attribute.required && decoded.is_ok() {
            return Err(format!(
                "{} is required, but the model accepts null for it",
                attribute.name
            ));
        }
        if attribute.optional && !attribute.computed && decoded.is_err() {
            return Err(format!(
                "{} is optional, but the model refuses null for it",
                attribute.name
            ));
        }
    }
    for nested in &block.blocks {
        let mut with_null = sample.clone();
        with_null.set(&nested.type_name, Value::Null);
        if nested.min_items == 0 && M::decode(&with_null).is_err() {
            return Err(format!(
                "block {} is optional, but the model refuses its absence",
                nested.type_name
            ));
        }
    }
    Ok(())
}

/// A value of type `ty` in which every part is set: strings `"s"`, numbers `1`, booleans
/// `true`, one element in every collection. Used to prove model/schema agreement.
pub fn sample_value(ty: &Type) -> Value {
    match ty {
        Type::Bool => Value::Bool(true),
        Type::Number => Value::int(1),
        Type::String | Type::Dynamic => Value::string("s"),
        Type::List(t) => Value::List(vec![sample_value(t)]),
        Type::Set(t) => Value::Set(vec![sample_value(t)]),
        Type::Map(t) => Value::Map(BTreeMap::from([("k".to_string(), sample_value(t))])),
        Type::Object(fields) => Value::Object(fields.iter().map(|(k, t)| (k.clone(), sample_value(t))).collect()),
    }
}

/// Checks that model `M` and schema `block` agree: the same attribute and block names, and
/// a value with every part of the schema set decodes into `M` (and into its configuration
/// view, also when every attribute is unknown) and encodes back unchanged.
pub fn check_agreement<M: Model>(block: &Block) -> Result<(), String>
where
    ConfigOf<M>: ToValue,
{
    let mut schema_names: Vec<&str> = block.attributes.iter().map(|a| a.name.as_str()).collect();
    schema_names.extend(block.blocks.iter().map(|b| b.type_name.as_str()));
    schema_names.sort_unstable();
    let mut model_names = M::ATTRIBUTES.to_vec();
    model_names.sort_unstable();
    if schema_names != model_names {
        return Err(format!(
            "the schema has {schema_names:?} but the model has {model_names:?}"
        ));
    }
    let sample = sample_value(&block.value_type());
    let model = M::decode(&sample).map_err(|d| format!("a full value does not decode: {d:?}"))?;
    if !model.to_value().equivalent(&sample) {
        return Err(format!("the model encodes {:?}, not {sample:?}", model.to_value()));
    }
    let config = ConfigOf::<M>::from_value(&sample, &AttributePath::empty())
        .map_err(|d| format!("a full value does not decode into the configuration view: {d:?}"))?;
    if !config.to_value().equivalent(&sample) {
        return Err(format!("the configuration view encodes {:?}", config.to_value()));
    }
    check_nullability::<M>(block, &sample)?;
    let unknowns = Value::Object(
        M::ATTRIBUTES
            .iter()
            .map(|name| (name.to_string(), Value::unknown()))
            .collect(),
    );
    ConfigOf::<M>::from_value(&unknowns, &AttributePath::empty())
        .map_err(|d| format!("an all-unknown configuration does not decode: {d:?}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Attribute;
    use crate::framework::schema::NestedBlock;

    crate::model! {
        /// A test model.
        pub struct Inner, config InnerConfig, names InnerNames {
            /// A set.
            pub roles: Option<BTreeSet<String>>,
        }
    }

    crate::model! {
        /// A test model.
        pub struct Sample, config SampleConfig, names SampleNames {
            /// Required.
            pub name: String,
            /// Optional.
            pub count: Option<i64>,
            /// Computed.
            pub arn: Known<String>,
            /// A map.
            pub tags: Option<BTreeMap<String, String>>,
            /// A nested block.
            pub inner: Option<Inner>,
        }
    }

    fn block() -> Block {
        Block::new("t")
            .attribute(Attribute::string("name").required())
            .attribute(Attribute::number("count").optional())
            .attribute(Attribute::string("arn").computed())
            .attribute(Attribute::string_map("tags").optional())
            .block(NestedBlock::single(
                "inner",
                Block::new("").attribute(Attribute::string_set("roles").optional()),
            ))
    }

    #[test]
    fn a_model_and_its_schema_agree() {
        check_agreement::<Sample>(&block()).unwrap();
    }

    #[test]
    fn a_misspelt_or_missing_attribute_is_found() {
        let typo = block().attribute(Attribute::string("extra").optional());
        let err = check_agreement::<Sample>(&typo).unwrap_err();
        assert!(err.contains("extra"), "{err}");
        let wrong_type = Block::new("t")
            .attribute(Attribute::number("name").required())
            .attribute(Attribute::number("count").optional())
            .attribute(Attribute::string("arn").computed())
            .attribute(Attribute::string_map("tags").optional())
            .block(NestedBlock::single(
                "inner",
                Block::new("").attribute(Attribute::string_set("roles").optional()),
            ));
        assert!(check_agreement::<Sample>(&wrong_type).is_err());
        let optional_name = Block::new("t")
            .attribute(Attribute::string("name").optional())
            .attribute(Attribute::number("count").optional())
            .attribute(Attribute::string("arn").computed())
            .attribute(Attribute::string_map("tags").optional())
            .block(NestedBlock::single(
                "inner",
                Block::new("").attribute(Attribute::string_set("roles").optional()),
            ));
        let err = check_agreement::<Sample>(&optional_name).unwrap_err();
        assert!(err.contains("name is optional"), "{err}");
        let required_count = Block::new("t")
            .attribute(Attribute::string("name").required())
            .attribute(Attribute::number("count").required())
            .attribute(Attribute::string("arn").computed())
            .attribute(Attribute::string_map("tags").optional())
            .block(NestedBlock::single(
                "inner",
                Block::new("").attribute(Attribute::string_set("roles").optional()),
            ));
        let err = check_agreement::<Sample>(&required_count).unwrap_err();
        assert!(err.contains("count is required"), "{err}");
    }

    #[test]
    fn errors_name_the_attribute_path() {
        let mut value = sample_value(&block().value_type());
        value.set("count", Value::string("x"));
        if let Some(inner) = value.get_mut("inner") {
            inner.set("roles", Value::Set(vec![Value::int(3)]));
        }
        let diags = Sample::decode(&value).unwrap_err();
        let paths: Vec<String> = diags
            .iter()
            .filter_map(|d| d.attribute.as_ref().map(ToString::to_string))
            .collect();
        assert_eq!(paths, vec!["count".to_string(), "inner.roles[0]".to_string()]);
    }

    #[test]
    fn a_null_required_attribute_is_an_error_not_an_empty_string() {
        let mut value = sample_value(&block().value_type());
        value.set("name", Value::Null);
        let diags = Sample::decode(&value).unwrap_err();
        assert_eq!(diags.iter().next().unwrap().summary, "Missing value");
    }

    #[test]
    fn configuration_views_hold_unknowns_anywhere() {
        let mut value = sample_value(&block().value_type());
        value.set("name", Value::unknown());
        value.set(
            "tags",
            Value::Map(BTreeMap::from([("a".to_string(), Value::unknown())])),
        );
        let config = SampleConfig::decode(&value).unwrap();
        assert!(config.name.is_unknown());
        assert!(config.tags.is_unknown());
        assert_eq!(config.count, Known::Value(1));
        assert!(Sample::decode(&value).is_err());
    }

    #[test]
    fn known_settles_unknown_to_null() {
        assert_eq!(Known::<i64>::Unknown.settled(), Known::Null);
        assert_eq!(Known::Value(3).settled(), Known::Value(3));
        assert_eq!(Known::from(Some("a".to_string())).as_str(), Some("a"));
        assert_eq!(Sample::NAMES.tags, "tags");
    }
}
