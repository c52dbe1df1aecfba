-- +goose Up
-- The fees of a reconciliation in chunks (issue 15's benchmark): MariaDB inserting one indexed
-- row per bill row cost more than parsing the whole bill. A run now writes its day's fees as a
-- few JSON arrays of up to 4,096 rows each, [out_trade_no, gross_fen, fee_fen(, out_refund_no)],
-- in the transaction that stores its report; recon_fees is a view with the table's old columns
-- that unpacks them (JSON_TABLE), so SQL still reads the fee of each payment and refund. A
-- lookup by trade unpacks the chunks it scans: give the channel and bill_date to scan one day.
-- Existing fee rows are moved into chunks, one day at a time.
CREATE TABLE recon_fee_chunks (
    channel   VARCHAR(16) NOT NULL,
    bill_date DATE        NOT NULL,
    chunk_no  INT         NOT NULL,
    fees      JSON        NOT NULL,
    PRIMARY KEY (channel, bill_date, chunk_no)
) ENGINE=InnoDB;
SET SESSION group_concat_max_len = 1073741824;
INSERT INTO recon_fee_chunks (channel, bill_date, chunk_no, fees)
SELECT channel, bill_date, n DIV 4096, CONCAT('[', GROUP_CONCAT(fee ORDER BY n SEPARATOR ','), ']')
FROM (SELECT channel, bill_date,
             ROW_NUMBER() OVER (PARTITION BY channel, bill_date ORDER BY out_trade_no, out_refund_no) - 1 AS n,
             IF(out_refund_no = '', JSON_ARRAY(out_trade_no, gross_fen, fee_fen),
                JSON_ARRAY(out_trade_no, gross_fen, fee_fen, out_refund_no)) AS fee
      FROM recon_fees) f
GROUP BY channel, bill_date, n DIV 4096;
SET SESSION group_concat_max_len = DEFAULT;
DROP TABLE recon_fees;
CREATE SQL SECURITY INVOKER VIEW recon_fees AS
SELECT c.channel, f.out_trade_no, f.out_refund_no, c.bill_date, f.gross_fen, f.fee_fen
FROM recon_fee_chunks c, JSON_TABLE(c.fees, '$[*]' COLUMNS (
    out_trade_no  VARCHAR(64) PATH '$[0]',
    gross_fen     BIGINT      PATH '$[1]',
    fee_fen       BIGINT      PATH '$[2]',
    out_refund_no VARCHAR(64) PATH '$[3]' DEFAULT '' ON EMPTY)) f;

-- +goose Down
CREATE TABLE recon_fees_rows (
    channel       VARCHAR(16) NOT NULL,
    out_trade_no  VARCHAR(64) NOT NULL,
    out_refund_no VARCHAR(64) NOT NULL DEFAULT '',
    bill_date     DATE        NOT NULL,
    gross_fen     BIGINT      NOT NULL,
    fee_fen       BIGINT      NOT NULL,
    PRIMARY KEY (channel, out_trade_no, out_refund_no)
) ENGINE=InnoDB;
INSERT IGNORE INTO recon_fees_rows (channel, out_trade_no, out_refund_no, bill_date, gross_fen, fee_fen)
SELECT channel, out_trade_no, out_refund_no, bill_date, gross_fen, fee_fen FROM recon_fees ORDER BY bill_date DESC;
DROP VIEW recon_fees;
RENAME TABLE recon_fees_rows TO recon_fees;
DROP TABLE recon_fee_chunks;
