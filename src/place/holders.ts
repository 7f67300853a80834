/**
 * Who holds fragment `index` of a stripe: the devices its manifest names, or, when it names none
 * (stripes written before placement recorded holders, or by a device alone), this device.
 */
export function holdersOf (stripe: { holders: string[][] }, index: number, self: string): string[] {
  const named = stripe.holders[index]
  return named != null && named.length > 0 ? named : [self]
}
