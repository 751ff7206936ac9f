"""Comprehension insight schemas: aggregate figures only, nothing about a family."""

from __future__ import annotations

import marshmallow as ma


class InsightQueryArgsSchema(ma.Schema):
    site = ma.fields.String(load_default=None, validate=ma.validate.Length(max=64))


class SectionTimeSchema(ma.Schema):
    form_id = ma.fields.String()
    version = ma.fields.Integer()
    locale = ma.fields.String()
    section_id = ma.fields.String()
    readers = ma.fields.Integer(allow_none=True)
    median_s = ma.fields.Float(allow_none=True)
    q1_s = ma.fields.Float(allow_none=True)
    q3_s = ma.fields.Float(allow_none=True)
    suppressed = ma.fields.Boolean(metadata={"description": "Fewer readers than min_group"})


class QuestionMissesSchema(ma.Schema):
    form_id = ma.fields.String()
    version = ma.fields.Integer()
    locale = ma.fields.String()
    age_band = ma.fields.String()
    question_id = ma.fields.String()
    signers = ma.fields.Integer(allow_none=True)
    answers = ma.fields.Integer(allow_none=True)
    wrong = ma.fields.Integer(allow_none=True)
    wrong_rate = ma.fields.Float(allow_none=True)
    suppressed = ma.fields.Boolean()


class AttemptsSchema(ma.Schema):
    form_id = ma.fields.String()
    version = ma.fields.Integer()
    locale = ma.fields.String()
    signers = ma.fields.Integer(allow_none=True)
    several_attempts = ma.fields.Integer(allow_none=True)
    suppressed = ma.fields.Boolean()


class InsightSchema(ma.Schema):
    min_group = ma.fields.Integer(metadata={"description": "Fewest family members per figure"})
    sections = ma.fields.List(ma.fields.Nested(SectionTimeSchema))
    questions = ma.fields.List(ma.fields.Nested(QuestionMissesSchema))
    attempts = ma.fields.List(ma.fields.Nested(AttemptsSchema))
