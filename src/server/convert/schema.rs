//! Framework schemas → `tfplugin6.Schema`, identity schemas, and the server capabilities.

use crate::framework::resource::ResourceIdentity;
use crate::framework::schema::{Attribute, AttributeKind, Block, NestedBlock, Nesting, Schema};
use crate::server::proto::tfplugin6 as pb;
use pb::schema::{nested_block, object};

/// Descriptions are written in Markdown.
const DESCRIPTION_KIND: pb::StringKind = pb::StringKind::Markdown;

/// Converts a versioned schema.
pub(crate) fn schema_to_proto(schema: &Schema) -> pb::Schema {
    pb::Schema {
        version: schema.version,
        block: Some(block_to_proto(&schema.block, schema.version)),
    }
}

fn block_to_proto(block: &Block, version: i64) -> pb::schema::Block {
    pb::schema::Block {
        version,
        attributes: block.attributes.iter().map(attribute_to_proto).collect(),
        block_types: block.blocks.iter().map(nested_block_to_proto).collect(),
        description: block.description.clone(),
        description_kind: i32::from(DESCRIPTION_KIND),
        deprecated: block.deprecated,
    }
}

fn attribute_to_proto(attr: &Attribute) -> pb::schema::Attribute {
    let (ty, nested_type) = match &attr.kind {
        AttributeKind::Typed(ty) => (ty.to_json_bytes(), None),
        AttributeKind::Nested { nesting, attributes } => {
            let object = pb::schema::Object {
                attributes: attributes.iter().map(attribute_to_proto).collect(),
                nesting: i32::from(object_nesting(*nesting)),
                ..pb::schema::Object::default()
            };
            (Vec::new(), Some(object))
        }
    };
    pb::schema::Attribute {
        name: attr.name.clone(),
        r#type: ty,
        nested_type,
        description: attr.description.clone(),
        required: attr.required,
        optional: attr.optional,
        computed: attr.computed,
        sensitive: attr.sensitive,
        description_kind: i32::from(DESCRIPTION_KIND),
        deprecated: attr.deprecated,
        write_only: false,
    }
}

fn nested_block_to_proto(nested: &NestedBlock) -> pb::schema::NestedBlock {
    let nesting = match nested.nesting {
        Nesting::Single => nested_block::NestingMode::Single,
        Nesting::Group => nested_block::NestingMode::Group,
        Nesting::List => nested_block::NestingMode::List,
        Nesting::Set => nested_block::NestingMode::Set,
        Nesting::Map => nested_block::NestingMode::Map,
    };
    pb::schema::NestedBlock {
        type_name: nested.type_name.clone(),
        block: Some(block_to_proto(&nested.block, 0)),
        nesting: i32::from(nesting),
        min_items: nested.min_items,
        max_items: nested.max_items,
    }
}

/// Nested attributes have no "group" mode; a group is a single object that is never null,
/// which "single" describes on the wire.
fn object_nesting(nesting: Nesting) -> object::NestingMode {
    match nesting {
        Nesting::Single | Nesting::Group => object::NestingMode::Single,
        Nesting::List => object::NestingMode::List,
        Nesting::Set => object::NestingMode::Set,
        Nesting::Map => object::NestingMode::Map,
    }
}

/// Converts a resource's identity schema.
pub(crate) fn identity_schema_to_proto(identity: &dyn ResourceIdentity) -> pb::ResourceIdentitySchema {
    pb::ResourceIdentitySchema {
        version: identity.version(),
        identity_attributes: identity
            .attributes()
            .into_iter()
            .map(|a| pb::resource_identity_schema::IdentityAttribute {
                name: a.name.to_string(),
                r#type: a.ty.to_json_bytes(),
                required_for_import: a.required_for_import,
                optional_for_import: a.optional_for_import,
                description: a.description.to_string(),
            })
            .collect(),
    }
}

/// What this server supports beyond the baseline protocol.
pub(crate) fn server_capabilities() -> pb::ServerCapabilities {
    pb::ServerCapabilities {
        plan_destroy: true,
        get_provider_schema_optional: true,
        move_resource_state: false,
        generate_resource_config: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::resource::IdentityAttribute;
    use crate::framework::types::Type;
    use crate::framework::value::Value;

    fn sample() -> Schema {
        let block = Block::new("A **widget**.")
            .attribute(Attribute::string("id").computed().description("Identifier."))
            .attribute(Attribute::string("secret").optional().sensitive().deprecated())
            .attribute(Attribute::nested(
                "ports",
                Nesting::List,
                vec![
                    Attribute::number("port").required(),
                    Attribute::string_map("labels").optional(),
                ],
            ))
            .block(NestedBlock {
                min_items: 1,
                max_items: 3,
                ..NestedBlock::list(
                    "rule",
                    Block::new("A rule.").attribute(Attribute::bool("on").required()),
                )
            });
        Schema { version: 2, block }
    }

    #[test]
    fn converts_attributes_nested_attributes_and_blocks() {
        let out = schema_to_proto(&sample());
        assert_eq!(out.version, 2);
        let block = out.block.expect("root block");
        assert_eq!(block.version, 2);
        assert_eq!(block.description, "A **widget**.");
        assert_eq!(block.description_kind, pb::StringKind::Markdown as i32);

        let id = &block.attributes[0];
        assert_eq!(id.name, "id");
        assert_eq!(id.r#type, br#""string""#.to_vec());
        assert!(id.computed && !id.optional && !id.required);
        assert_eq!(id.description, "Identifier.");

        let secret = &block.attributes[1];
        assert!(secret.sensitive && secret.deprecated && secret.optional);

        let ports = &block.attributes[2];
        assert!(ports.r#type.is_empty(), "nested attributes carry no type bytes");
        let object = ports.nested_type.as_ref().expect("nested type");
        assert_eq!(object.nesting, object::NestingMode::List as i32);
        assert_eq!(object.attributes[0].name, "port");
        assert_eq!(object.attributes[0].r#type, br#""number""#.to_vec());
        assert!(object.attributes[0].required);
        assert_eq!(object.attributes[1].r#type, br#"["map","string"]"#.to_vec());

        let rule = &block.block_types[0];
        assert_eq!(rule.type_name, "rule");
        assert_eq!(rule.nesting, nested_block::NestingMode::List as i32);
        assert_eq!((rule.min_items, rule.max_items), (1, 3));
        let inner = rule.block.as_ref().expect("rule block");
        assert_eq!(inner.attributes[0].name, "on");
        assert_eq!(inner.attributes[0].r#type, br#""bool""#.to_vec());
    }

    #[test]
    fn group_nested_attributes_become_single() {
        let attr = Attribute::nested("g", Nesting::Group, vec![Attribute::string("x").optional()]);
        let out = attribute_to_proto(&attr);
        assert_eq!(
            out.nested_type.expect("nested").nesting,
            object::NestingMode::Single as i32
        );
    }

    struct NameIdentity;

    impl ResourceIdentity for NameIdentity {
        fn version(&self) -> i64 {
            1
        }
        fn attributes(&self) -> Vec<IdentityAttribute> {
            vec![IdentityAttribute {
                name: "name",
                ty: Type::String,
                required_for_import: true,
                optional_for_import: false,
                description: "The name.",
            }]
        }
        fn identity_of(&self, _state: &Value) -> Value {
            Value::Null
        }
    }

    #[test]
    fn converts_identity_schema() {
        let out = identity_schema_to_proto(&NameIdentity);
        assert_eq!(out.version, 1);
        let attr = &out.identity_attributes[0];
        assert_eq!(attr.name, "name");
        assert_eq!(attr.r#type, br#""string""#.to_vec());
        assert!(attr.required_for_import && !attr.optional_for_import);
        assert_eq!(attr.description, "The name.");
    }

    #[test]
    fn capabilities_plan_destroy_and_optional_schema() {
        let caps = server_capabilities();
        assert!(caps.plan_destroy && caps.get_provider_schema_optional && caps.generate_resource_config);
        assert!(!caps.move_resource_state);
    }
}
