/** The tariff book lives in libs/ch2 (the im-server reads the same tariff windows for background retrieval windows). */
export { TariffBook, TariffFileError } from '@imc/ch2';
export type { Prices, Rating, Tariff, TariffWindow } from '@imc/ch2';
