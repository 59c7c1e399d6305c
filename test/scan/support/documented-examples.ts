/*
 * The documented example keys of src/scan/documented-examples.ts, each split in two so that this
 * file holds nothing a scanner would flag. Join the parts to get the value.
 */
export const DOCUMENTED_EXAMPLE_PARTS: readonly (readonly [string, string])[] = [
  ["AI", "zaSyDOCAbC123dEf456GhI789jKl012-MnO"],
  ["AI", "zaSyDOCAbC123dEf456GhI789jKl01-MnO"],
  ["gh", "p_16C7e42F292c6912E7710c838347Ae178B4a"],
  ["gh", "o_16C7e42F292c6912E7710c838347Ae178B4a"],
  ["gh", "u_16C7e42F292c6912E7710c838347Ae178B4a"],
  ["gh", "s_16C7e42F292c6912E7710c838347Ae178B4a"],
  ["gh", "r_16C7e42F292c6912E7710c838347Ae178B4a"],
  ["e72e16c7e42f292c", "6912e7710c838347ae178b4a"],
  ["cw_0x689RpI-jtRR7oE8h_eQs", "KImvJapLeSbXpwF4e4="],
  ["730ff4c7af3d4692", "3e8ed451ee813c87"],
  ["f790b0a226bc96a9", "2de49b5e9c05e1ee"],
  ["a4547dcd9d3429615a3649bb79e87edb", "62ee6a74b007075e9141ae44f5fb412c"],
  ["shp", "ss_QlRSJy5AXX1cILNjVatTsEIhFxuPF5ex"],
  ["shp", "at_r8TRc9ZXAvcVvcrmtr7qoVw69WeeY1ex"],
  ["shp", "ca_7jqbg9cupMkZRxJKXWz3v8BvS8QBa7hMdJfAex"],
  ["shp", "pa_7jqbg9cupMkZRxJKXWz3v8BvS8QBa7hMdJfAex"],
  ["A3-C4ZJMN", "-PQTZTL-HGL84-G64M7-KVZRN-4ZVP6"],
  ["AK", "IAIOSFODNN7EXAMPLE"],
  ["wJalrXUtnFEMI/K7MDENG/bPxRfiCY", "EXAMPLEKEY"],
];

export const DOCUMENTED_EXAMPLES: readonly string[] = DOCUMENTED_EXAMPLE_PARTS.map(([a, b]) => a + b);
