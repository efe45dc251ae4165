//! Typed schemas for providers, resources and data sources, with the behaviour attached to
//! attributes: validators, plan modifiers and defaults.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::plan_modifier::PlanModifier;
use super::types::Type;
use super::validator::Validator;
use super::value::Value;

/// A versioned schema: the root block of a provider, resource or data source.
#[derive(Clone, Default)]
pub struct Schema {
    /// Schema version, stored with resource state (for upgrades).
    pub version: i64,
    /// The root block.
    pub block: Block,
}

impl Schema {
    /// A version-0 schema with this root block.
    pub fn new(block: Block) -> Schema {
        Schema { version: 0, block }
    }

    /// The cty type of values of this schema.
    pub fn value_type(&self) -> Type {
        self.block.value_type()
    }
}

/// A block: attributes and nested blocks.
#[derive(Clone, Default)]
pub struct Block {
    /// Attributes, in display order.
    pub attributes: Vec<Attribute>,
    /// Nested blocks, in display order.
    pub blocks: Vec<NestedBlock>,
    /// Markdown description.
    pub description: String,
    /// Whether the block is deprecated.
    pub deprecated: bool,
}

impl Block {
    /// An empty block with a description.
    pub fn new(description: impl Into<String>) -> Block {
        Block {
            description: description.into(),
            ..Block::default()
        }
    }

    /// Adds an attribute.
    pub fn attribute(mut self, attribute: Attribute) -> Block {
        self.attributes.push(attribute);
        self
    }

    /// Adds a nested block.
    pub fn block(mut self, block: NestedBlock) -> Block {
        self.blocks.push(block);
        self
    }

    /// The object type of this block's values.
    pub fn value_type(&self) -> Type {
        let mut fields = BTreeMap::new();
        for a in &self.attributes {
            fields.insert(a.name.clone(), a.value_type());
        }
        for b in &self.blocks {
            fields.insert(b.type_name.clone(), b.value_type());
        }
        Type::Object(fields)
    }

    /// The attribute with this name.
    pub fn find_attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }

    /// The nested block with this type name.
    pub fn find_block(&self, name: &str) -> Option<&NestedBlock> {
        self.blocks.iter().find(|b| b.type_name == name)
    }
}

/// How the elements of a nested block or nested attribute are collected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nesting {
    /// At most one object (null when absent).
    Single,
    /// Exactly one object, never null.
    Group,
    /// A list of objects.
    List,
    /// A set of objects.
    Set,
    /// A map of objects.
    Map,
}

impl Nesting {
    fn wrap(self, object: Type) -> Type {
        match self {
            Nesting::Single | Nesting::Group => object,
            Nesting::List => Type::list(object),
            Nesting::Set => Type::set(object),
            Nesting::Map => Type::map(object),
        }
    }
}

/// A nested block such as `timeouts { ... }`.
#[derive(Clone)]
pub struct NestedBlock {
    /// The block's name in configuration.
    pub type_name: String,
    /// Its contents.
    pub block: Block,
    /// How repeated blocks are collected.
    pub nesting: Nesting,
    /// Minimum number of blocks (0 = optional).
    pub min_items: i64,
    /// Maximum number of blocks (0 = unlimited).
    pub max_items: i64,
}

impl NestedBlock {
    /// A block that may appear at most once.
    pub fn single(type_name: &str, block: Block) -> NestedBlock {
        NestedBlock {
            type_name: type_name.to_string(),
            block,
            nesting: Nesting::Single,
            min_items: 0,
            max_items: 0,
        }
    }

    /// A block that may be repeated, collected as a list.
    pub fn list(type_name: &str, block: Block) -> NestedBlock {
        NestedBlock {
            type_name: type_name.to_string(),
            block,
            nesting: Nesting::List,
            min_items: 0,
            max_items: 0,
        }
    }

    /// The type of this block's value.
    pub fn value_type(&self) -> Type {
        self.nesting.wrap(self.block.value_type())
    }
}

/// What kind of value an attribute holds.
#[derive(Clone)]
pub enum AttributeKind {
    /// A plain cty type.
    Typed(Type),
    /// Nested attributes (protocol 6 `NestedType`).
    Nested {
        /// How the nested objects are collected.
        nesting: Nesting,
        /// The nested object's attributes.
        attributes: Vec<Attribute>,
    },
}

/// One attribute of a block.
#[derive(Clone)]
pub struct Attribute {
    /// Name in configuration.
    pub name: String,
    /// Its type.
    pub kind: AttributeKind,
    /// Markdown description.
    pub description: String,
    /// Must be set in configuration.
    pub required: bool,
    /// May be set in configuration.
    pub optional: bool,
    /// Set by the provider (alone: read-only; with `optional`: defaulted by the provider).
    pub computed: bool,
    /// Hidden in plan output.
    pub sensitive: bool,
    /// Deprecated.
    pub deprecated: bool,
    /// Checks run on known configuration values during validation.
    pub validators: Vec<Arc<dyn Validator>>,
    /// Adjustments made while planning.
    pub plan_modifiers: Vec<Arc<dyn PlanModifier>>,
    /// Value planned when the configuration leaves the attribute null (needs `computed`).
    pub default: Option<Value>,
}

impl Attribute {
    /// An attribute of type `ty`; set one of `required`, `optional` or `computed` next.
    pub fn new(name: &str, ty: Type) -> Attribute {
        Attribute {
            name: name.to_string(),
            kind: AttributeKind::Typed(ty),
            description: String::new(),
            required: false,
            optional: false,
            computed: false,
            sensitive: false,
            deprecated: false,
            validators: Vec::new(),
            plan_modifiers: Vec::new(),
            default: None,
        }
    }

    /// A string attribute.
    pub fn string(name: &str) -> Attribute {
        Attribute::new(name, Type::String)
    }

    /// A number attribute.
    pub fn number(name: &str) -> Attribute {
        Attribute::new(name, Type::Number)
    }

    /// A boolean attribute.
    pub fn bool(name: &str) -> Attribute {
        Attribute::new(name, Type::Bool)
    }

    /// A map-of-strings attribute.
    pub fn string_map(name: &str) -> Attribute {
        Attribute::new(name, Type::map(Type::String))
    }

    /// A set-of-strings attribute.
    pub fn string_set(name: &str) -> Attribute {
        Attribute::new(name, Type::set(Type::String))
    }

    /// A list-of-strings attribute.
    pub fn string_list(name: &str) -> Attribute {
        Attribute::new(name, Type::list(Type::String))
    }

    /// An attribute holding nested attributes.
    pub fn nested(name: &str, nesting: Nesting, attributes: Vec<Attribute>) -> Attribute {
        let mut a = Attribute::new(name, Type::Dynamic);
        a.kind = AttributeKind::Nested { nesting, attributes };
        a
    }

    /// Must be set in configuration.
    pub fn required(mut self) -> Attribute {
        self.required = true;
        self
    }

    /// May be set in configuration.
    pub fn optional(mut self) -> Attribute {
        self.optional = true;
        self
    }

    /// Set by the provider.
    pub fn computed(mut self) -> Attribute {
        self.computed = true;
        self
    }

    /// Hidden in plan output and logs.
    pub fn sensitive(mut self) -> Attribute {
        self.sensitive = true;
        self
    }

    /// Marks the attribute deprecated.
    pub fn deprecated(mut self) -> Attribute {
        self.deprecated = true;
        self
    }

    /// Sets the description.
    pub fn description(mut self, text: impl Into<String>) -> Attribute {
        self.description = text.into();
        self
    }

    /// Adds a validator.
    pub fn validator(mut self, v: impl Validator + 'static) -> Attribute {
        self.validators.push(Arc::new(v));
        self
    }

    /// Adds a plan modifier.
    pub fn plan_modifier(mut self, m: impl PlanModifier + 'static) -> Attribute {
        self.plan_modifiers.push(Arc::new(m));
        self
    }

    /// Plans this value when configuration leaves the attribute null. Makes the attribute
    /// optional and computed.
    pub fn default_value(mut self, value: impl Into<Value>) -> Attribute {
        self.default = Some(value.into());
        self.optional = true;
        self.computed = true;
        self
    }

    /// The type of this attribute's value.
    pub fn value_type(&self) -> Type {
        match &self.kind {
            AttributeKind::Typed(t) => t.clone(),
            AttributeKind::Nested { nesting, attributes } => {
                let fields = attributes.iter().map(|a| (a.name.clone(), a.value_type())).collect();
                nesting.wrap(Type::Object(fields))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_type_includes_nested_blocks_and_attributes() {
        let block = Block::new("root")
            .attribute(Attribute::string("name").required())
            .attribute(Attribute::nested(
                "inner",
                Nesting::List,
                vec![Attribute::number("n").optional()],
            ))
            .block(NestedBlock::single(
                "timeouts",
                Block::new("").attribute(Attribute::string("create").optional()),
            ));
        let ty = block.value_type();
        assert_eq!(
            ty.to_json().to_string(),
            concat!(
                r#"["object",{"inner":["list",["object",{"n":"number"}]],"#,
                r#""name":"string","timeouts":["object",{"create":"string"}]}]"#,
            )
        );
    }

    #[test]
    fn default_makes_attribute_optional_and_computed() {
        let a = Attribute::number("days").default_value(0i64);
        assert!(a.optional && a.computed);
        assert_eq!(a.default, Some(Value::int(0)));
    }
}
