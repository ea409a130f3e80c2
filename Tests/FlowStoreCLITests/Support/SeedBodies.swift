/// The request bodies from the seed API pages (/work/shared/seeds/), copied verbatim.
enum SeedBodies {
    /// Humanloop "Upsert Flow": the curl example body, exactly as the page gives it
    /// (note `version_name`/`version_description` sit inside `attributes` there).
    static let humanloopUpsert = #"""
{
"attributes": {
"prompt": {
"template": "You are a helpful medical assistant helping with medical anamnesis. Answer {{question}}",
"model": "gpt-4o",
"temperature": 0.8
},
"tool": {
"name": "retrieval_tool_v3",
"description": "Retrieval tool for MedQA.",
"source_code": "def retrieval_tool(question: str) -> str:\n pass\n"
},
"version_name": "medqa-flow-v1",
"version_description": "Initial version"
},
"path": "Personal Projects/MedQA Flow"
}
"""#

    /// PromptLayer "Create Workflow": "Create an Agent with Multiple Nodes" (Python
    /// `True`/`False` written as JSON).
    static let promptLayerMultiNode = #"""
{
    "name": "classifier-agent",
    "nodes": [
        {
            "name": "classify",
            "node_type": "PROMPT_TEMPLATE",
            "is_output_node": false,
            "configuration": {
                "template": {
                    "prompt_name": "intent-classifier",
                    "label": "production"
                }
            },
            "dependencies": ["user_message"]
        },
        {
            "name": "is_urgent",
            "node_type": "CONTAINS",
            "is_output_node": false,
            "configuration": {
                "source": "classify",
                "value": "urgent"
            },
            "dependencies": ["classify"]
        },
        {
            "name": "response",
            "node_type": "PROMPT_TEMPLATE",
            "is_output_node": true,
            "configuration": {
                "template": {
                    "prompt_name": "response-generator",
                    "label": "production"
                }
            },
            "dependencies": ["classify", "is_urgent", "user_message"]
        }
    ],
    "required_input_variables": {
        "user_message": "string"
    }
}
"""#

    /// PromptLayer "Create Workflow": "Create an Agent with Conditional Edges".
    static let promptLayerConditionalEdges = #"""
{
    "name": "routing-agent",
    "nodes": [
        {
            "name": "router",
            "node_type": "PROMPT_TEMPLATE",
            "is_output_node": false,
            "configuration": {"template": {"prompt_name": "router"}},
            "dependencies": ["query"]
        },
        {
            "name": "sales_handler",
            "node_type": "PROMPT_TEMPLATE",
            "is_output_node": true,
            "configuration": {"template": {"prompt_name": "sales-response"}},
            "dependencies": ["router", "query"]
        },
        {
            "name": "support_handler",
            "node_type": "PROMPT_TEMPLATE",
            "is_output_node": true,
            "configuration": {"template": {"prompt_name": "support-response"}},
            "dependencies": ["router", "query"]
        }
    ],
    "required_input_variables": {"query": "string"},
    "edges": [
        {
            "source_node_name": "router",
            "target_node_name": "sales_handler",
            "is_and": true,
            "conditionals": [{
                "position": 0,
                "operator": "=",
                "left_config": {"type": "source", "source": {"name": "router"}},
                "right_config": {"type": "static_value", "static_value": "sales"}
            }]
        },
        {
            "source_node_name": "router",
            "target_node_name": "support_handler",
            "is_and": true,
            "conditionals": [{
                "position": 0,
                "operator": "=",
                "left_config": {"type": "source", "source": {"name": "router"}},
                "right_config": {"type": "static_value", "static_value": "support"}
            }]
        }
    ]
}
"""#

    /// PromptLayer "Create Workflow": "Create a Simple Agent" (with `release_labels`).
    static let promptLayerSimple = #"""
{
    "name": "greeting-agent",
    "commit_message": "Initial version",
    "nodes": [
        {
            "name": "greeting",
            "node_type": "VARIABLE",
            "is_output_node": true,
            "configuration": {
                "value": {"type": "string", "value": "Hello, World!"}
            },
            "dependencies": []
        }
    ],
    "release_labels": ["production"]
}
"""#
}
