/** An EC2 (or STS) API error, rendered by the server as the real XML error envelope. */
export class Ec2Error extends Error {
  constructor(
    public readonly code: string,
    message: string,
    public readonly status = 400,
  ) {
    super(message);
    this.name = code;
  }
}

export const missing = (param: string) =>
  new Ec2Error('MissingParameter', `The request must contain the parameter ${param}`);

export const invalidValue = (param: string, value: string, why?: string) =>
  new Ec2Error('InvalidParameterValue', why ? `Value (${value}) for parameter ${param} is invalid. ${why}` : `Invalid value '${value}' for ${param}.`);

/** "The instance ID 'i-1' does not exist" / "The instance IDs 'i-1, i-2' do not exist" */
export const notFoundList = (code: string, noun: string, ids: string[]) =>
  new Ec2Error(code, ids.length === 1 ? `The ${noun} ID '${ids[0]}' does not exist` : `The ${noun} IDs '${ids.join(', ')}' do not exist`);

export const malformed = (code: string, id: string, prefix: string) =>
  new Ec2Error(code, `Invalid id: "${id}" (expecting "${prefix}-...")`);
