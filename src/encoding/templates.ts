// Fixed strings of the DeepSeek-V3.2 prompt format (encoding_dsv32.py), kept byte-exact.

export const BOS = '<｜begin▁of▁sentence｜>';
export const EOS = '<｜end▁of▁sentence｜>';
export const USER = '<｜User｜>';
export const ASSISTANT = '<｜Assistant｜>';
export const THINK_START = '<think>';
export const THINK_END = '</think>';
export const DSML = '｜DSML｜';

export const FUNCTION_CALLS_OPEN = `<${DSML}function_calls>`;
export const FUNCTION_CALLS_CLOSE = `</${DSML}function_calls>`;
export const INVOKE_OPEN = `<${DSML}invoke`;
export const INVOKE_CLOSE = `</${DSML}invoke>`;
export const PARAMETER_OPEN = `<${DSML}parameter`;
export const PARAMETER_CLOSE = `</${DSML}parameter>`;
/** What starts a tool-call block in model output. */
export const TOOL_CALLS_START = `\n\n<${DSML}function_calls`;

export const RESPONSE_FORMAT_HEADER = '## Response Format:\n\nYou MUST strictly adhere to the following schema to reply:\n';
export const DEVELOPER_USER_PREFIX = "\n\n# The user's message is: ";

/** The tools block (HF release wording and whitespace); schemas are one JSON object per line. */
export function toolsBlock(schemaLines: string): string {
  return `## Tools

You have access to a set of tools you can use to answer the user's question.
You can invoke functions by writing a "<${DSML}function_calls>" block like the following as part of your reply to the user:
<${DSML}function_calls>
<${DSML}invoke name="$FUNCTION_NAME">
<${DSML}parameter name="$PARAMETER_NAME" string="true|false">$PARAMETER_VALUE</${DSML}parameter>
...
</${DSML}invoke>
<${DSML}invoke name="$FUNCTION_NAME2">
...
</${DSML}invoke>
</${DSML}function_calls>

String and scalar parameters should be specified as is without any escaping or quotes, while lists and objects should use JSON format. The "string" attribute should be set to "true" for string type parameters and "false" for other types (numbers, booleans, arrays, objects).

If the thinking_mode is enabled, then after function results you should strongly consider outputting a thinking block. Here is an example:

<${DSML}function_calls>
...
</${DSML}function_calls>

<function_results>
...
</function_results>

${THINK_START}...thinking about results${THINK_END}

Here are the functions available in JSONSchema format:
<functions>
${schemaLines}
</functions>
`;
}
