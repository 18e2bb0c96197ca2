//! The sandbox's catalogue itself: 32 public personas (one inactive, two looks of "Ava"),
//! two custom avatars of the account (not in the list, found by id; one still processing),
//! and 22 voices with 33 accents. Ids are UUIDs (v5, fixed forever: the sample sheets and
//! the tests use them); the comment after each persona is the look it stands for.

use super::{persona, Custom, Persona, Voice};

/// Every persona `GET /api/personas/` lists.
#[rustfmt::skip]
pub const PERSONAS: &[Persona] = &[
    persona("edb9719c-42af-5c7f-83d5-b7de95567b5e", "Ava", "f", "adult", "indoor", "presenter", true), // ava-studio
    persona("2b92b9a0-d01a-5269-addf-73c756c408be", "Ava", "f", "adult", "outdoor", "selfie", true), // ava-outdoor
    persona("59a2f478-35aa-54dd-811f-d70078d765aa", "Marco", "m", "adult", "outdoor", "selfie", true), // marco-street
    persona("8e3e386c-c4cd-5641-b56b-e266ae745440", "June", "f", "senior", "indoor", "other", true), // june-kitchen
    persona("bf43f4a8-3cf6-52d3-9e4e-f9716bdbc8aa", "Sam", "nb", "adult", "indoor", "presenter", true), // sam-office
    persona("adf0edab-78af-511a-8197-23cc97665860", "Theo", "m", "teen", "outdoor", "selfie", true), // theo-park
    persona("297be3e8-a63c-503e-8640-2182b410778b", "Nova", "f", "adult", "fantasy", "other", true), // nova-castle
    persona("6573bd63-2085-505a-9b30-4287b5fdbe71", "Rosa", "f", "senior", "outdoor", "selfie", true), // rosa-market
    persona("67c386cf-2560-50f5-bf02-385cf1c07d00", "Liam", "m", "adult", "indoor", "selfie", true), // liam-gym
    persona("27b45bdc-ccdc-569a-ac9b-4c8cfd5ce4f4", "Mia", "f", "adult", "indoor", "selfie", true), // mia-cafe
    persona("1f47e54d-b55b-5eda-875c-c93a94cc3b1f", "Noah", "m", "adult", "indoor", "presenter", true), // noah-desk
    persona("708ebf37-62aa-5b00-874b-7b80a28d133d", "Emma", "f", "adult", "outdoor", "presenter", true), // emma-garden
    persona("e2214cc2-b02a-5992-b951-523ca70889c3", "Kenji", "m", "adult", "indoor", "presenter", true), // kenji-studio
    persona("2e0d568e-2443-539a-b885-bd3a0e7e5249", "Aiko", "f", "teen", "outdoor", "selfie", true), // aiko-street
    persona("5adee404-d206-54a0-9970-8a2cb13bddc5", "Omar", "m", "adult", "indoor", "presenter", true), // omar-showroom
    persona("49fb9674-ff4e-5258-bf08-e2f9076c88ce", "Leila", "f", "adult", "outdoor", "selfie", true), // leila-beach
    persona("e3305c8b-04c8-58a5-afcf-d4225382c065", "Priya", "f", "adult", "indoor", "presenter", true), // priya-office
    persona("1d65ae90-94ce-5d0a-a6d1-f09ac327b1d5", "Arjun", "m", "senior", "outdoor", "other", true), // arjun-park
    persona("e7f96087-de7e-57fe-a5f7-b34646d114c1", "Sofia", "f", "adult", "indoor", "selfie", true), // sofia-loft
    persona("7db2730a-386d-5134-bc3c-b0f14d1956da", "Lucas", "m", "adult", "other", "selfie", true), // lucas-car
    persona("51bb8c8b-38a5-5a1f-ab74-3a9ecb765ccb", "Chloe", "f", "child", "indoor", "other", true), // chloe-playroom
    persona("245c4811-4189-5031-97d7-729f8f24cec0", "Max", "m", "adult", "indoor", "presenter", true), // max-lab
    persona("a1ebaf18-fc43-52d6-92af-7ac9ea142df2", "Zara", "nb", "adult", "other", "other", true), // zara-runway
    persona("63652fbf-ef30-52e4-9954-183fb0db7cf6", "Ivan", "m", "senior", "outdoor", "other", true), // ivan-forest
    persona("f2132d77-78fb-5331-b396-ad36b16f3678", "Grace", "f", "senior", "indoor", "presenter", true), // grace-library
    persona("f6b75042-6509-50e4-ac2b-f995db6d1c87", "Sir Galen", "m", "adult", "fantasy", "other", true), // galen-keep
    persona("a493c2fc-efe6-5df7-8c6a-78b533d55aef", "Elowen", "f", "adult", "fantasy", "other", true), // elowen-grove
    persona("d8986bc0-7e5d-5bbc-aff2-b6c7e1a04d41", "Ben", "m", "adult", "indoor", "presenter", true), // ben-warehouse
    persona("b050ad33-5fe2-507a-804e-1a23e6a43999", "Nina", "f", "adult", "indoor", "other", true), // nina-kitchen
    persona("ab8d1f0a-7157-5137-9e3a-9eda3fbb5cad", "Tom", "m", "senior", "outdoor", "selfie", false), // tom-porch
    persona("037f45c2-6a42-58ff-a8fe-4081b38ec6a8", "Kai", "m", "teen", "outdoor", "selfie", true), // kai-skatepark
    persona("8201341e-f80c-5634-b0be-736764ce65b1", "Lena", "f", "adult", "indoor", "presenter", true), // lena-studio
];

/// The account's own avatars: not listed, found by `GET /api/personas/{id}/`.
#[rustfmt::skip]
pub const CUSTOM: &[Custom] = &[
    Custom { persona: persona("dca60cf6-2714-5817-aec1-67fc4f74ef21", "Dana (our founder)", "f", "adult", "indoor", "presenter", true), status: "done" }, // brand-founder
    Custom { persona: persona("eff0c8ad-0138-5b01-9418-449d5f5a6d3b", "Pip (mascot)", "nb", "adult", "other", "other", true), status: "processing" }, // brand-mascot
];

/// Every voice `GET /api/voices/` lists; requests name one of its accents.
#[rustfmt::skip]
pub const VOICES: &[Voice] = &[
    Voice { name: "Ava", gender: "female", accents: &[("52825997-e2f1-5148-a3f3-620a6cb2bacf", "American"), ("540e3a23-0fee-5f7c-9ea9-84f80a0fe3c7", "British")] },
    Voice { name: "Marco", gender: "male", accents: &[("990c4704-ff24-5f05-bd42-2a8083ecfafc", "American"), ("5fb80448-886f-590f-b323-8c40dbd48417", "Spanish")] },
    Voice { name: "June", gender: "female", accents: &[("da5750c1-df93-5da3-a9f5-4534ad9b9e1b", "Australian")] },
    Voice { name: "Sam", gender: "non_binary", accents: &[("4b0a7810-b786-587e-bd75-81389efe8a1c", "American")] },
    Voice { name: "Theo", gender: "male", accents: &[("2977507e-863d-582e-8846-2d56e5975e59", "British")] },
    Voice { name: "Lina", gender: "female", accents: &[("c26f58fe-97ec-52b5-bc98-68d787ae7b3d", "German"), ("9107ed31-28a8-59ca-98f0-0fe99a6c7650", "French")] },
    Voice { name: "Haru", gender: "male", accents: &[("d58b7892-f736-5092-8ab0-007020e8f6e8", "Japanese")] },
    Voice { name: "Olivia", gender: "female", accents: &[("6888eea0-19ce-51e2-86be-142129abec73", "American"), ("d4731621-f231-5b65-b65f-ad2f49ae94e7", "Canadian")] },
    Voice { name: "James", gender: "male", accents: &[("0f1c3093-004b-5da1-8a22-b82aa136c965", "British"), ("ca2585df-1ee6-54a7-9d84-647e5e67ac42", "Irish")] },
    Voice { name: "Amara", gender: "female", accents: &[("35ac3e95-5f3d-52c6-b34f-db3822e6dcf0", "Nigerian")] },
    Voice { name: "Raj", gender: "male", accents: &[("17d86999-8da7-512f-9d67-c166dd44a253", "Indian"), ("2ce3cee4-14b8-58d4-8cac-b1a0bd7f3d3d", "Hindi")] },
    Voice { name: "Mei", gender: "female", accents: &[("5f090de4-4b9f-507a-86f4-e5e8043cdfd8", "Mandarin"), ("0695b9e3-5418-5f59-a7e9-082ee4f4e3ac", "American")] },
    Voice { name: "Carlos", gender: "male", accents: &[("f9d7f6ca-ff0b-5135-9310-27818a15eda5", "Mexican Spanish"), ("46d29a11-f67f-5f53-8de8-4ffb4799e4e5", "Brazilian Portuguese")] },
    Voice { name: "Freya", gender: "female", accents: &[("58a2f363-4dbc-5555-907e-9678de5a5586", "Swedish"), ("09df9d92-24e0-595b-b688-8ca256e49e9e", "British")] },
    Voice { name: "Jonas", gender: "male", accents: &[("9b235e61-e4e3-5cd3-b293-c788e2851e53", "German")] },
    Voice { name: "Camille", gender: "female", accents: &[("c8bb15b1-3025-57a3-b2ea-699663abfc50", "French"), ("3b0b49d6-e2c7-5b32-b361-eecb5fff5328", "Canadian French")] },
    Voice { name: "Alex", gender: "non_binary", accents: &[("f0729f39-2617-5330-b6c5-39823b135e89", "British"), ("22f789d7-b4ba-5669-b4f7-162def0570b3", "Australian")] },
    Voice { name: "Yara", gender: "female", accents: &[("06847b71-c22a-5c3b-9d74-6cf63b7bbf35", "Arabic")] },
    Voice { name: "Luca", gender: "male", accents: &[("aca2dabe-b705-5513-958d-1dcbb6bba921", "Italian")] },
    Voice { name: "Hana", gender: "female", accents: &[("f848f8c4-ac58-56cc-9b78-cf2ceb7f5850", "Korean")] },
    Voice { name: "Oscar", gender: "male", accents: &[("98f8831a-9b7f-5223-8ad1-9425d4716761", "American")] },
    Voice { name: "Arthur", gender: "male", accents: &[("c4293d0d-69bd-595c-9b44-bfc77a5d0def", "British")] },
];
